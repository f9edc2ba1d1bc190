package upgradetest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestStagedKeyWithPreviousRelease: a key staged by the current release
// (published, signing only later) is, for the previous release, simply the
// newest key, which it signs with at once. Serving one database together,
// each version must accept the other's tokens: the current one verifies a
// staged key's tokens before the key signs for it.
func TestStagedKeyWithPreviousRelease(t *testing.T) {
	bins := built(t)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := newDatabase(t, kind)
			env := db.env(false)
			must(t)(command(bins.current.path, env, "migrate", "up"))
			// The first keys rotate makes the first key, signing at once (none
			// did); the second the staged one.
			must(t)(command(bins.current.path, env, "keys", "rotate"))
			out, err := command(bins.current.path, env, "keys", "rotate")
			if err != nil || !strings.Contains(out, "pending") {
				t.Fatalf("keys rotate: %v\n%s", err, out)
			}
			prev := newClient(mustStart(t, bins.previous.version, bins.previous.path, env))
			cur := newClient(mustStart(t, bins.current.version, bins.current.path, env))
			a := newAccount("staged")
			if _, err := cur.register(t.Context(), a); err != nil {
				t.Fatal(err)
			}
			fromPrev, err := prev.login(t.Context(), a.username, a.password)
			if err != nil {
				t.Fatal(err)
			}
			fromCur, err := cur.login(t.Context(), a.username, a.password)
			if err != nil {
				t.Fatal(err)
			}
			if kidOf(t, fromPrev.Access) == kidOf(t, fromCur.Access) {
				t.Fatalf("both versions sign with key %s: want the previous release on the staged key, the current one on the old", kidOf(t, fromCur.Access))
			}
			for name, c := range map[string]*client{"previous": prev, "current": cur} {
				for from, p := range map[string]pair{"previous": fromPrev, "current": fromCur} {
					if _, err := c.me(t.Context(), p.Access, http.StatusOK); err != nil {
						t.Errorf("the %s release, token of the %s release (kid %s): %v", name, from, kidOf(t, p.Access), err)
					}
				}
			}
		})
	}
}

// kidOf is the kid header of a JWT.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	head, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	var h struct {
		Kid string `json:"kid"`
	}
	if err == nil {
		err = json.Unmarshal(b, &h)
	}
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	return h.Kid
}
