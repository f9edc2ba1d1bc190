package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/storetest"
)

// TestRehashOnLoginOnEveryStore: a bcrypt hash keeps verifying once
// argon2id is the scheme, and the next successful login stores an argon2id
// hash without ending the sessions of the old one. The two servers share
// one database, as a deployment that changes USERSVC_PASSWORD_HASH does.
func TestRehashOnLoginOnEveryStore(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		shared := apptest.Env("USERSVC_DATA_DIR", t.TempDir())
		if kind == apptest.Postgres {
			shared = apptest.Env("DATABASE_URL", storetest.PostgresURL(t))
		}
		before := newServer(t, kind, shared)
		a, id := before.signUp()
		oldToken := before.token(a.Username, a.Password)
		if u, _ := before.Stores.Users.ByID(t.Context(), id); !strings.HasPrefix(u.PasswordHash, "$2a$04$") {
			t.Fatalf("stored hash %.7s..., want bcrypt", u.PasswordHash)
		}

		after := newServer(t, kind, shared, apptest.Env("USERSVC_PASSWORD_HASH", "argon2id",
			"USERSVC_ARGON2_MEMORY_KIB", "8192", "USERSVC_ARGON2_ITERATIONS", "1"))
		after.token(a.Email, a.Password)
		u, _ := after.Stores.Users.ByID(t.Context(), id)
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=8192,t=1,p=1$") || u.TokenVersion != 0 {
			t.Errorf("after login: hash %.30s..., token version %d; want argon2id, 0", u.PasswordHash, u.TokenVersion)
		}
		if res := after.do(req{method: "GET", path: "/api/v1/users/me", token: oldToken}); res.Status != http.StatusOK {
			t.Errorf("token from before the re-hash: %v, want 200", res)
		}
		after.token(a.Username, a.Password) // the argon2id hash verifies
		if res := after.loginAs(a.Username, "wrong password"); res.Status != http.StatusUnauthorized {
			t.Errorf("wrong password on the argon2id hash: %v, want 401", res)
		}
	})
}
