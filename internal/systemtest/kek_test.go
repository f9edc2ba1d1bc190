package systemtest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/totp"
)

// kekKeys is a replica's key-encryption keys, as the README's rotation
// sets them: the key it seals with, and the one that only opens (the new
// key as next in the first roll, the old one as previous in the second;
// "": unset).
type kekKeys struct{ current, previous, next string }

// environ is k as settings; an empty key is left unset.
func (k kekKeys) environ() []string {
	env := []string{"USERSVC_KEY_ENCRYPTION_KEY=" + k.current}
	if k.previous != "" {
		env = append(env, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS="+k.previous)
	}
	if k.next != "" {
		env = append(env, "USERSVC_KEY_ENCRYPTION_KEY_NEXT="+k.next)
	}
	return env
}

// newKEK returns a fresh key-encryption key, as `openssl rand -base64 32`
// makes one.
func newKEK() string {
	b := make([]byte, signing.KeyEncryptionKeyBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.StdEncoding.EncodeToString(b)
}

// totpAccount is an account with a confirmed TOTP authenticator, and the
// latest time step the test has used a code of: the service takes each
// step's code once, from one step before to one after its own.
type totpAccount struct {
	name, secret string
	last         int64
}

// kekPassword is the password of every account of the rotation test.
const kekPassword = "Kek-Pa55word-correct-horse"

// code returns a code of the authenticator's next unused time step that
// the service accepts now: the earliest of the three it accepts, except in
// the last seconds of a step, where the oldest could expire on the way.
func (a *totpAccount) code(t *testing.T) string {
	t.Helper()
	now := time.Now()
	step := now.Unix() / totp.Period
	use := max(a.last+1, step-1)
	if use == step-1 && totp.Period-now.Unix()%totp.Period <= 2 {
		use = step
	}
	if use > step+1 {
		t.Fatalf("%s: no unused TOTP time step left (the test logs in too often)", a.name)
	}
	a.last = use
	code, err := totp.Code(a.secret, time.Unix(use*totp.Period, 0))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// tokenPair is what /token answers a login or a refresh.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	MFAToken     string `json:"mfa_token"`
	Error        string `json:"error"`
}

// postToken posts form to api's /token and returns the status and answer.
func postToken(t *testing.T, api string, form url.Values) (int, tokenPair) {
	t.Helper()
	var tok tokenPair
	status := call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form.Encode(), &tok)
	return status, tok
}

// passwordLogin logs name in on api with the password and returns the
// tokens: on an account with TOTP, the mfa_required answer's.
func passwordLogin(t *testing.T, api, name string) (int, tokenPair) {
	t.Helper()
	return postToken(t, api, url.Values{"username": {name}, "password": {kekPassword}})
}

// enrolTOTP registers name on api, logs in, sets up TOTP and confirms it
// with a first code; it returns the account and its password login.
func enrolTOTP(t *testing.T, api, name string) (*totpAccount, tokenPair) {
	t.Helper()
	body := fmt.Sprintf(`{"email":"%s@example.com","username":%q,"password":%q}`, name, name, kekPassword)
	if got := call(t, "POST", api+"/register", "", "application/json", body, nil); got != http.StatusCreated {
		t.Fatalf("register %s on %s: status %d, want 201", name, api, got)
	}
	status, tok := passwordLogin(t, api, name)
	if status != http.StatusOK {
		t.Fatalf("login %s on %s: status %d, want 200", name, api, status)
	}
	var key struct{ Secret string }
	if got := call(t, "POST", api+"/users/me/mfa/totp", tok.AccessToken, "", "", &key); got != http.StatusCreated || key.Secret == "" {
		t.Fatalf("enrol TOTP of %s on %s: status %d, want 201 and a secret", name, api, got)
	}
	a := &totpAccount{name: name, secret: key.Secret}
	if got := call(t, "POST", api+"/users/me/mfa/totp/confirm", tok.AccessToken, "application/json",
		`{"code":"`+a.code(t)+`"}`, nil); got != http.StatusOK {
		t.Fatalf("confirm TOTP of %s on %s: status %d, want 200", name, api, got)
	}
	return a, tok
}

// totpLogin logs a in on api with the password and a TOTP code, and
// returns the tokens; it says what went wrong, "" when nothing did.
func totpLogin(t *testing.T, api string, a *totpAccount) (tokenPair, string) {
	t.Helper()
	status, first := passwordLogin(t, api, a.name)
	if status != http.StatusForbidden || first.Error != "mfa_required" || first.MFAToken == "" {
		return tokenPair{}, fmt.Sprintf("password step: status %d, error %q; want 403 mfa_required with an mfa_token", status, first.Error)
	}
	status, tok := postToken(t, api, url.Values{
		"grant_type": {"urn:usersvc:params:oauth:grant-type:mfa-otp"}, "mfa_token": {first.MFAToken}, "otp": {a.code(t)},
	})
	if status != http.StatusOK || tok.AccessToken == "" || tok.RefreshToken == "" {
		return tokenPair{}, fmt.Sprintf("TOTP step: status %d, error %q; want 200 with tokens", status, tok.Error)
	}
	return tok, ""
}

// kekFleet is two replicas of usersvc on one PostgreSQL database, taken
// through the README's rotation of the key-encryption key one restart
// at a time, and what the test keeps between the steps: accounts with
// TOTP, one refresh token it rotates and every access token handed out.
type kekFleet struct {
	t        *testing.T
	shared   []string // the settings every replica and command has besides its keys
	replicas [2]*process
	accounts []*totpAccount
	refresh  string
	access   []string
}

// replicaName names replica i in messages: a, b.
func replicaName(i int) string { return string("ab"[i]) }

func (f *kekFleet) environ(k kekKeys) []string {
	return append(append([]string{}, f.shared...), k.environ()...)
}

func (f *kekFleet) api(i int) string { return f.replicas[i].base + "/api/v1" }

// restart stops replica i (SIGTERM, a clean exit) and starts it with k,
// on another free port; start returns once it answers /healthz.
func (f *kekFleet) restart(i int, k kekKeys) {
	f.t.Helper()
	if err := f.replicas[i].stop(f.t); err != nil {
		f.t.Errorf("replica %s: exit after SIGTERM: %v, want status 0", replicaName(i), err)
	}
	f.replicas[i] = start(f.t, f.environ(k)...)
}

// roll restarts each replica in turn with k, checking both after each.
func (f *kekFleet) roll(step string, k kekKeys) {
	f.t.Helper()
	for i := range f.replicas {
		f.restart(i, k)
		f.check(fmt.Sprintf("%s, replica %s restarted", step, replicaName(i)))
	}
}

// check is what nobody may notice at any step: on each replica a TOTP
// login of an account whose secret the other replica sealed now, the
// refresh token refreshing (and rotating), and every access token handed
// out so far still accepted.
func (f *kekFleet) check(step string) {
	f.t.Helper()
	for x := range f.replicas {
		y := 1 - x
		a, _ := enrolTOTP(f.t, f.api(x), fmt.Sprintf("kek%02d", len(f.accounts)))
		f.accounts = append(f.accounts, a)
		tok, bad := totpLogin(f.t, f.api(y), a)
		if bad != "" {
			f.t.Fatalf("%s: TOTP set up on replica %s, login on replica %s: %s", step, replicaName(x), replicaName(y), bad)
		}
		f.access = append(f.access, tok.AccessToken)
	}
	for i := range f.replicas {
		status, tok := postToken(f.t, f.api(i), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {f.refresh}})
		if status != http.StatusOK || tok.RefreshToken == "" {
			f.t.Fatalf("%s: refresh on replica %s: status %d, error %q; want 200 with a new refresh token", step, replicaName(i), status, tok.Error)
		}
		f.refresh, f.access = tok.RefreshToken, append(f.access, tok.AccessToken)
	}
	for i := range f.replicas {
		for n, tok := range f.access {
			if got := call(f.t, "GET", f.api(i)+"/users/me", tok, "", "", nil); got != http.StatusOK {
				f.t.Errorf("%s: access token %d of %d on replica %s: status %d, want 200 until it expires", step, n+1, len(f.access), replicaName(i), got)
			}
		}
	}
}

// refuses runs `usersvc args...` with k and checks that it fails, saying
// want.
func (f *kekFleet) refuses(what string, k kekKeys, want string, args ...string) {
	f.t.Helper()
	out, err := command(f.t, f.environ(k), args...)
	if err == nil || !strings.Contains(out, want) {
		f.t.Errorf("%s: %v, output %q; want a failure saying %q", what, err, out, want)
	}
}

// reseal runs `usersvc keys reseal` with k and checks what it says: the
// TOTP secrets and the signing and service keys sealed again, and the old
// key free to go. Run again, it has nothing left to do.
func (f *kekFleet) reseal(k kekKeys) {
	f.t.Helper()
	out, err := command(f.t, f.environ(k), "keys", "reseal")
	if err != nil {
		f.t.Fatalf("keys reseal: %v\n%s", err, out)
	}
	for _, want := range []string{"signing keys: 1 resealed", "service key: 1 resealed", "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS can be removed"} {
		if !strings.Contains(out, want) {
			f.t.Errorf("keys reseal said %q; want it to say %q", out, want)
		}
	}
	if !totpResealed.MatchString(out) {
		f.t.Errorf("keys reseal said %q; want TOTP secrets resealed (those set up before the second roll)", out)
	}
	out, err = command(f.t, f.environ(k), "keys", "reseal")
	if err != nil || resealedSome.MatchString(out) || !strings.Contains(out, "can be removed") {
		f.t.Errorf("keys reseal again: %v, output %q; want nothing resealed", err, out)
	}
}

// resealedSome matches a line of `usersvc keys reseal` that resealed
// something.
var resealedSome = regexp.MustCompile(`: [1-9][0-9]* resealed`)

// totpResealed matches the reseal's line of TOTP secrets when it resealed
// some.
var totpResealed = regexp.MustCompile(`TOTP secrets: [1-9][0-9]* resealed`)

// TestKEKRotationOfRunningReplicas runs the README's "Rotating the
// key-encryption key" with the binary: two replicas on one PostgreSQL
// database, each restarted in turn for the first roll (the new key as
// USERSVC_KEY_ENCRYPTION_KEY_NEXT) and the second (the new key sealing,
// the old as USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS), then `usersvc keys
// reseal`, then each restarted without the old key. At every restart both
// replicas log in with TOTP (set up on the other), refresh and accept
// every access token handed out before; a reseal in the first roll and a
// replica without the old key before the reseal are refused.
func TestKEKRotationOfRunningReplicas(t *testing.T) {
	began := time.Now()
	oldKey, newKey := newKEK(), newKEK()
	f := &kekFleet{t: t, shared: append([]string{
		"DATABASE_URL=" + storetest.PostgresURL(t), "USERSVC_DATA_DIR=" + t.TempDir(),
	}, loadEnv...)}
	before := kekKeys{current: oldKey}
	for i := range f.replicas {
		f.replicas[i] = start(t, f.environ(before)...)
	}
	ada, tok := enrolTOTP(t, f.api(0), "ada")
	f.accounts, f.refresh, f.access = append(f.accounts, ada), tok.RefreshToken, []string{tok.AccessToken}
	f.check("before the rotation")

	first := kekKeys{current: oldKey, next: newKey}
	f.roll("first roll", first)
	f.refuses("keys reseal during the first roll", first, "USERSVC_KEY_ENCRYPTION_KEY_NEXT is set", "keys", "reseal")

	second := kekKeys{current: newKey, previous: oldKey}
	f.roll("second roll", second)
	f.refuses("serve with the new key alone before the reseal", kekKeys{current: newKey}, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS", "serve")
	f.reseal(second)
	f.check("after the reseal")

	f.roll("old key dropped", kekKeys{current: newKey})
	// Every secret set up during the rotation, under either key, opens
	// with the new key alone.
	for n, a := range f.accounts {
		if _, bad := totpLogin(t, f.api(n%2), a); bad != "" {
			t.Errorf("after the rotation: TOTP login of %s on replica %s: %s", a.name, replicaName(n%2), bad)
		}
	}
	for i, p := range f.replicas {
		if err := p.stop(t); err != nil {
			t.Errorf("replica %s: exit after SIGTERM: %v, want status 0", replicaName(i), err)
		}
	}
	t.Logf("the rotation took %v", time.Since(began).Round(time.Millisecond))
}
