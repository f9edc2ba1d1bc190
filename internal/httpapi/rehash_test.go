package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/security"
)

// TestRehashOnLoginOnEveryStore: a bcrypt hash keeps verifying once
// argon2id is the scheme, and the next successful login stores an argon2id
// hash without ending the sessions of the old one.
func TestRehashOnLoginOnEveryStore(t *testing.T) {
	bc, _ := security.NewBcrypt(4)
	argon, err := security.NewArgon2id(security.Argon2Params{MemoryKiB: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			repo := st.Open(t)
			before := newAbuseServer(t, repo, abuseSetup{hasher: security.NewPasswords(bc, bc, argon)})
			a := newAccount()
			id := uuid.MustParse(before.register(a)["id"].(string))
			oldToken := before.token(a.Username, a.Password)
			if u, _ := repo.ByID(t.Context(), id); !strings.HasPrefix(u.PasswordHash, "$2a$04$") {
				t.Fatalf("stored hash %.7s..., want bcrypt", u.PasswordHash)
			}

			after := newAbuseServer(t, repo, abuseSetup{hasher: security.NewPasswords(argon, bc, argon)})
			after.token(a.Email, a.Password)
			u, _ := repo.ByID(t.Context(), id)
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
}
