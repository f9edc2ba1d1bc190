package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
)

// newKEK is a random USERSVC_KEY_ENCRYPTION_KEY.
func newKEK(t *testing.T) string {
	t.Helper()
	b := make([]byte, signing.KeyEncryptionKeyBytes)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// kekDeployment is one database that servers start on, one after
// another, with the key-encryption keys a test gives them.
type kekDeployment struct {
	t    *testing.T
	kind string
	env  []string // the store's and the signing variables every start shares
}

func newKEKDeployment(t *testing.T, kind string) *kekDeployment {
	env := []string{"USERSVC_JWT_ALG", "EdDSA", "USERSVC_WEBHOOK_ALLOW_PRIVATE", "on", "USERSVC_DATA_DIR", t.TempDir()}
	if kind == apptest.Postgres {
		env = append(env, "DATABASE_URL", storetest.PostgresURL(t))
	}
	return &kekDeployment{t: t, kind: kind, env: env}
}

func (d *kekDeployment) vars(kek, previous string) []string {
	return append(append([]string{}, d.env...), "USERSVC_KEY_ENCRYPTION_KEY", kek, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS", previous)
}

// start serves the deployment with kek and previous ("": none), its clock
// moved on by ahead (so that TOTP codes of earlier starts are of earlier
// time steps).
func (d *kekDeployment) start(kek, previous string, ahead time.Duration) *server {
	d.t.Helper()
	s := newServer(d.t, d.kind, apptest.Env(d.vars(kek, previous)...))
	s.Clock.Advance(ahead)
	return s
}

// config is the deployment's configuration with kek and previous, as a
// command run beside the servers reads it.
func (d *kekDeployment) config(kek, previous string) config.Config {
	d.t.Helper()
	v := append(d.vars(kek, previous), "USERSVC_BCRYPT_COST", "4", "USERSVC_RATE_LIMITS", "off")
	environ := make([]string, 0, len(v)/2)
	for i := 0; i+1 < len(v); i += 2 {
		environ = append(environ, v[i]+"="+v[i+1])
	}
	cfg, err := config.Load(environ, "")
	if err != nil {
		d.t.Fatal(err)
	}
	return cfg
}

// startErr is the error of starting with kek and previous (nil: it started).
func (d *kekDeployment) startErr(kek, previous string) error {
	d.t.Helper()
	a, err := app.New(d.t.Context(), d.config(kek, previous), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		a.Close()
	}
	return err
}

// reseal runs what `usersvc keys reseal` runs, with kek and previous.
func (d *kekDeployment) reseal(kek, previous string) ([]signing.ResealCount, error) {
	d.t.Helper()
	cfg := d.config(kek, previous)
	db, err := app.OpenMigrated(d.t.Context(), cfg)
	if err != nil {
		d.t.Fatal(err)
	}
	defer db.Close()
	return app.Reseal(context.WithoutCancel(d.t.Context()), cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// kekHolder is what the test keeps of the first start: an account with
// TOTP, recovery codes and a refresh token; an administrator with a
// device token, a refresh token, an access token and a webhook.
type kekHolder struct {
	mfa               account
	totp              string
	codes             []string
	mfaRefresh        string
	admin             account
	device, refresh   string
	access, hookID    string
	hookSecret, jwkID string
	rcv               *hookReceiver
	sent              int // messages the receiver has had
}

func (h *kekHolder) setUp(t *testing.T, s *server) {
	h.mfa, _ = s.signUp()
	login := s.loginAs(h.mfa.Username, h.mfa.Password).object(t)
	h.totp, h.codes = s.enrolTOTP(login["access_token"].(string))
	h.mfaRefresh = login["refresh_token"].(string)
	a, id := s.signUp()
	h.admin = a
	s.setRole(id, user.RoleAdmin)
	body := s.loginAs(a.Username, a.Password).object(t)
	h.access, h.refresh, h.device = body["access_token"].(string), body["refresh_token"].(string), body["device_token"].(string)
	h.rcv = newHookReceiver(t)
	hook := s.createWebhook(h.access, `{"url":"`+h.rcv.URL+`/hook","types":["user.deleted"]}`)
	h.hookID, h.hookSecret = hook.ID, hook.Secret
	h.jwkID = claimsHeaderKid(t, h.access)
}

// check shows that everything set up still works on s: a TOTP login, a
// recovery code (the n-th), both refresh tokens, the device token, the
// first access token, and a webhook message signed with the same secret.
func (h *kekHolder) check(t *testing.T, s *server, n int) {
	t.Helper()
	if res := s.otpLogin(h.mfa, h.totp, 0); res.Status != http.StatusOK {
		t.Errorf("TOTP login: got %v, want 200", res)
	}
	if res := s.secondStep("mfa-recovery-code", s.mfaToken(h.mfa.Username, h.mfa.Password), "recovery_code", h.codes[n]); res.Status != http.StatusOK {
		t.Errorf("recovery code %d: got %v, want 200", n, res)
	}
	h.mfaRefresh = refreshed(t, s, h.mfaRefresh)
	h.refresh = refreshed(t, s, h.refresh)
	res := s.loginWith(nil, h.admin.Username, h.admin.Password, h.device, "")
	if got, _ := res.object(t)["device_token"].(string); res.Status != http.StatusOK || got != h.device {
		t.Errorf("login with the device token: got %d and device_token %q, want 200 and the same token (a known device)", res.Status, got)
	}
	if res := s.do(req{method: "GET", path: "/api/v1/users/me", token: h.access}); res.Status != http.StatusOK {
		t.Errorf("the first access token: got %v, want 200", res)
	}
	if d := s.sendTestWebhook(h.access, h.hookID); d.State != "succeeded" {
		t.Errorf("test webhook: %+v, want succeeded", d)
	}
	h.rcv.verify(t, h.sent, h.hookSecret)
	h.sent++
}

// refreshed refreshes with token and returns its successor.
func refreshed(t *testing.T, s *server, token string) string {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}.Encode()
	res := s.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: formType})
	if res.Status != http.StatusOK {
		t.Fatalf("refresh: got %v, want 200", res)
	}
	return res.object(t)["refresh_token"].(string)
}

// claimsHeaderKid is the kid in a token's header.
func claimsHeaderKid(t *testing.T, token string) string {
	t.Helper()
	head, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(head), `"kid":"`)
	kid, _, _ := strings.Cut(rest, `"`)
	return kid
}

// TestRotatingTheKeyEncryptionKey: an operator changes
// USERSVC_KEY_ENCRYPTION_KEY with the old one as
// USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS, reseals, then drops the old one;
// nobody notices: TOTP, recovery codes, refresh and device tokens, issued
// access tokens and webhook secrets all keep working. Started with a wrong
// key and no previous one, the service refuses, naming the variable.
func TestRotatingTheKeyEncryptionKey(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		d := newKEKDeployment(t, kind)
		kek1, kek2 := newKEK(t), newKEK(t)
		var h kekHolder
		h.setUp(t, d.start(kek1, "", 0))

		if err := d.startErr(kek2, ""); err == nil || !strings.Contains(err.Error(), "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS") {
			t.Fatalf("start with another key and no previous one: error %v, want one naming USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS", err)
		}
		s2 := d.start(kek2, kek1, time.Minute)
		h.check(t, s2, 0)

		counts, err := d.reseal(kek2, kek1)
		if err != nil {
			t.Fatalf("reseal: %v", err)
		}
		for _, kind := range []string{signing.KindSigningKeys, signing.KindServiceKey, signing.KindWebhookSecrets, signing.KindTOTPSecrets} {
			if c := countOf(counts, kind); c.Resealed < 1 || c.Changed != 0 {
				t.Errorf("reseal: %s %+v, want at least one resealed", kind, c)
			}
		}
		again, err := d.reseal(kek2, kek1)
		if err != nil {
			t.Fatalf("reseal again: %v", err)
		}
		for _, c := range again {
			if c.Resealed != 0 {
				t.Errorf("reseal again: %s %+v, want nothing resealed", c.Kind, c)
			}
		}

		h.check(t, d.start(kek2, "", 2*time.Minute), 1)
		if err := d.startErr(kek1, ""); err == nil {
			t.Error("start with the old key alone after the reseal succeeded, want a refusal")
		}
	})
}

// TestResealRefusesWhatOpensWithNeitherKey: with keys that open nothing
// stored, reseal says which kinds and how many, and changes nothing.
func TestResealRefusesWhatOpensWithNeitherKey(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		d := newKEKDeployment(t, kind)
		kek1 := newKEK(t)
		var h kekHolder
		h.setUp(t, d.start(kek1, "", 0))

		_, err := d.reseal(newKEK(t), newKEK(t))
		var unopenable *signing.UnopenableError
		if !errors.As(err, &unopenable) {
			t.Fatalf("reseal with two wrong keys: error %v, want an UnopenableError", err)
		}
		for _, kind := range []string{signing.KindSigningKeys, signing.KindServiceKey, signing.KindWebhookSecrets, signing.KindTOTPSecrets} {
			if c := countOf(unopenable.Counts, kind); c.Resealed < 1 || !strings.Contains(err.Error(), kind) {
				t.Errorf("refusal %q: %s counted %d, want it named with its count", err, kind, c.Resealed)
			}
		}
		h.check(t, d.start(kek1, "", time.Minute), 0)
	})
}

func countOf(counts []signing.ResealCount, kind string) signing.ResealCount {
	for _, c := range counts {
		if c.Kind == kind {
			return c
		}
	}
	return signing.ResealCount{Kind: kind}
}
