package systemtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// loginAda registers (when asked) and logs in ada on srv, returning the token.
func loginAda(t *testing.T, base string, register bool) string {
	t.Helper()
	api := base + "/api/v1"
	if register {
		if got := call(t, "POST", api+"/register", "", "application/json",
			`{"email":"ada@example.com","username":"ada","password":"correct horse"}`, nil); got != http.StatusCreated {
			t.Fatalf("register: status %d, want 201", got)
		}
	}
	return loginToken(t, api, "ada", "correct horse")
}

func tokenKid(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if alg := tok.Header["alg"]; alg != "EdDSA" {
		t.Errorf("token alg = %v, want EdDSA (the default)", alg)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}

func jwksKidsAt(t *testing.T, base string) []string {
	t.Helper()
	res, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if cc := res.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") {
		t.Errorf("JWKS Cache-Control = %q, want a short public max-age", cc)
	}
	var set struct {
		Keys []struct{ Kid, Alg, Use string }
	}
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		if k.Alg != "EdDSA" || k.Use != "sig" {
			t.Errorf("JWKS key %+v, want alg EdDSA, use sig", k)
		}
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestKeyRotationAcrossReplicas runs two replicas on one database, rotates
// the signing key with `usersvc keys rotate --now` and checks that neither needs
// a restart: old tokens keep working, new ones carry the new kid, and both
// keys are published.
func TestKeyRotationAcrossReplicas(t *testing.T) {
	kek := "USERSVC_KEY_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			environ := append([]string{"USERSVC_DATA_DIR=" + t.TempDir(), kek}, db.environ(t)...)
			a := start(t, environ...)
			b := start(t, environ...)
			first := loginAda(t, a.base, true)
			oldKid := tokenKid(t, first)
			if got := jwksKidsAt(t, b.base); len(got) != 1 || got[0] != oldKid {
				t.Fatalf("JWKS before rotation = %v, want [%s]", got, oldKid)
			}

			out, err := command(t, environ, "keys", "rotate", "--now")
			if err != nil {
				t.Fatalf("keys rotate --now: %v\n%s", err, out)
			}
			c := start(t, environ...) // a replica started after the rotation signs with the new key
			second := loginAda(t, c.base, false)
			newKid := tokenKid(t, second)
			if newKid == oldKid || !strings.Contains(out, newKid) {
				t.Fatalf("after rotation: kid %q (old %q), rotate printed %q", newKid, oldKid, out)
			}
			replicas := map[string]*process{"a": a, "b": b, "c": c}
			for name, srv := range replicas {
				// A replica that has not reloaded since the rotation reloads
				// when a token names the unknown kid, at most once a second
				// (the reload's rate limit): a first refusal may come before
				// that second is up, but it must accept the token well before
				// its periodic reload (30 s) would.
				waitFor(t, 10*time.Second, "replica "+name+" to accept a token of the new key", func() bool {
					return call(t, "GET", srv.base+"/api/v1/users/me", second, "", "", nil) == http.StatusOK
				})
			}
			for name, srv := range replicas {
				for _, tok := range []string{first, second} {
					if got := call(t, "GET", srv.base+"/api/v1/users/me", tok, "", "", nil); got != http.StatusOK {
						t.Errorf("replica %s, token of key %s: status %d, want 200", name, tokenKid(t, tok), got)
					}
				}
				if got := jwksKidsAt(t, srv.base); len(got) != 2 || got[0] != oldKid || got[1] != newKid {
					t.Errorf("replica %s JWKS during the overlap = %v, want [%s %s]", name, got, oldKid, newKid)
				}
			}
			if kid := tokenKid(t, loginAda(t, a.base, false)); kid != newKid {
				t.Errorf("replica a signs with %q after reloading, want %q", kid, newKid)
			}

			out, err = command(t, environ, "keys", "list")
			if err != nil {
				t.Fatalf("keys list: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 3 || !strings.Contains(lines[1], oldKid) || !strings.Contains(lines[1], "retiring") ||
				!strings.Contains(lines[2], newKid) || !strings.Contains(lines[2], "active") {
				t.Errorf("keys list = %q, want the old key retiring and the new one active", out)
			}
			// A staged rotation publishes a key that signs only later.
			out, err = command(t, environ, "keys", "rotate")
			if err != nil || !strings.Contains(out, "signs from") || !strings.Contains(out, "pending") {
				t.Errorf("keys rotate: %v, output %q; want a pending key and when it signs", err, out)
			}
			if kid := tokenKid(t, loginAda(t, c.base, false)); kid != newKid {
				t.Errorf("after a staged rotation replica c signs with %q, want %q until the publish delay has passed", kid, newKid)
			}

			// Another key encryption key cannot open the stored keys: the
			// service refuses to start, naming the variable.
			other := append(environ, "USERSVC_KEY_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32)))
			out, err = command(t, other, "serve")
			if err == nil || !strings.Contains(out, "USERSVC_KEY_ENCRYPTION_KEY") {
				t.Errorf("serve with a wrong key encryption key: %v, output %q; want a failure naming USERSVC_KEY_ENCRYPTION_KEY", err, out)
			}
			for name, srv := range replicas {
				if err := srv.stop(t); err != nil {
					t.Errorf("replica %s: exit after SIGTERM: %v, want status 0", name, err)
				}
			}
		})
	}
}
