package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/usersvc/usersvc/internal/storetest"
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
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	form := url.Values{"username": {"ada"}, "password": {"correct horse"}}.Encode()
	if got := call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form, &tok); got != http.StatusOK {
		t.Fatalf("token: status %d, want 200", got)
	}
	return tok.AccessToken
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
// the signing key with `usersvc keys rotate` and checks that neither needs
// a restart: old tokens keep working, new ones carry the new kid, and both
// keys are published.
func TestKeyRotationAcrossReplicas(t *testing.T) {
	kek := "USERSVC_KEY_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	for _, db := range []struct {
		name    string
		environ func(t *testing.T) []string
	}{
		{"sqlite", func(t *testing.T) []string { return []string{"USERSVC_DATA_DIR=" + t.TempDir(), kek} }},
		{"postgres", func(t *testing.T) []string {
			return []string{"USERSVC_DATA_DIR=" + t.TempDir(), "DATABASE_URL=" + storetest.PostgresURL(t), kek}
		}},
	} {
		t.Run(db.name, func(t *testing.T) {
			environ := db.environ(t)
			a := start(t, environ)
			b := start(t, environ)
			first := loginAda(t, a.base, true)
			oldKid := tokenKid(t, first)
			if got := jwksKidsAt(t, b.base); len(got) != 1 || got[0] != oldKid {
				t.Fatalf("JWKS before rotation = %v, want [%s]", got, oldKid)
			}

			var out bytes.Buffer
			if err := run(context.Background(), []string{"keys", "rotate"}, environ, &out); err != nil {
				t.Fatalf("keys rotate: %v", err)
			}
			c := start(t, environ) // a replica started after the rotation signs with the new key
			second := loginAda(t, c.base, false)
			newKid := tokenKid(t, second)
			if newKid == oldKid || !strings.Contains(out.String(), newKid) {
				t.Fatalf("after rotation: kid %q (old %q), rotate printed %q", newKid, oldKid, out.String())
			}
			time.Sleep(1100 * time.Millisecond) // the unknown-kid reload's rate limit
			for name, srv := range map[string]started{"a": a, "b": b, "c": c} {
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

			out.Reset()
			if err := run(context.Background(), []string{"keys", "list"}, environ, &out); err != nil {
				t.Fatalf("keys list: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 3 || !strings.Contains(lines[1], oldKid) || !strings.Contains(lines[1], "retiring") ||
				!strings.Contains(lines[2], newKid) || !strings.Contains(lines[2], "active") {
				t.Errorf("keys list = %q, want the old key retiring and the new one active", out.String())
			}

			// Another key encryption key cannot open the stored keys: the
			// service refuses to start, naming the variable.
			other := append(environ, "USERSVC_KEY_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32)))
			err := run(context.Background(), []string{"serve"}, append(other, "USERSVC_ADDR=127.0.0.1:0"), io.Discard)
			if err == nil || !strings.Contains(err.Error(), "USERSVC_KEY_ENCRYPTION_KEY") {
				t.Errorf("serve with a wrong key encryption key: error = %v, want one naming USERSVC_KEY_ENCRYPTION_KEY", err)
			}
			for _, srv := range []started{a, b, c} {
				if err := srv.stop(); err != nil {
					t.Errorf("stop: %v", err)
				}
			}
		})
	}
}

func TestKeysCommandUsage(t *testing.T) {
	environ := []string{"USERSVC_DATA_DIR=" + t.TempDir()}
	for _, args := range [][]string{{"keys"}, {"keys", "burn"}} {
		if err := run(context.Background(), args, environ, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded, want a usage error", args)
		}
	}
	if err := run(context.Background(), []string{"keys", "list"}, append(environ, "USERSVC_JWT_ALG=HS256"), io.Discard); err == nil {
		t.Error("keys list with HS256 succeeded, want an error: there are no stored keys")
	}
	if err := run(context.Background(), []string{"keys", "list"}, append(environ, "USERSVC_JWT_ALG=bogus"), io.Discard); err == nil {
		t.Error("keys list with a bad configuration succeeded")
	}
}
