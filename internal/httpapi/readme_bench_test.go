package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// BenchmarkReadMe is the authenticated GET /api/v1/users/me end to end in
// process: the whole handler (middleware, access log at info to a discarded
// writer, metrics, huma, token verification, one lookup, JSON) on each
// store, and on the in-memory fake ("memory": the HTTP layer's own cost,
// without a database). "serial" is one request at a time (the cost of
// one); "parallel" is GOMAXPROCS goroutines at once, as under load.
func BenchmarkReadMe(b *testing.B) {
	stores := append([]storetest.Store{{Name: "memory", Open: func(testing.TB) user.Repository { return usertest.NewMemory() }}},
		storetest.All()...)
	for _, s := range stores {
		b.Run(s.Name, func(b *testing.B) {
			repo := s.Open(b)
			u, err := repo.Create(b.Context(), usertest.NewUser(1))
			if err != nil {
				b.Fatal(err)
			}
			hasher, tokens := benchSecurity(b)
			sess, rt := usertest.NewSession(u.ID, time.Now())
			if err := repo.CreateSession(b.Context(), sess, rt); err != nil {
				b.Fatal(err)
			}
			token, _, err := tokens.Issue(security.Claims{UserID: u.ID, Version: u.TokenVersion, SessionID: sess.ID})
			if err != nil {
				b.Fatal(err)
			}
			h := httpapi.New(user.NewService(repo, hasher, tokens), httpapi.Options{
				Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
			})
			get := func(b *testing.B) {
				r := httptest.NewRequest(http.MethodGet, "/api/v1/users/me", nil)
				r.Header.Set("Authorization", "Bearer "+token)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("GET /api/v1/users/me = %d %s, want 200", w.Code, w.Body)
				}
			}
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					get(b)
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						get(b)
					}
				})
			})
		})
	}
}

// benchSecurity is newSecurity for benchmarks: the cheapest hasher (no
// password is hashed here) and a token issuer.
func benchSecurity(b *testing.B) (*security.Bcrypt, *security.HS256) {
	b.Helper()
	hasher, err := security.NewBcrypt(4)
	if err != nil {
		b.Fatal(err)
	}
	tokens, err := security.NewHS256([]byte("bench-secret-0123456789abcdef-0123456789"), "usersvc", 30*time.Minute, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	return hasher, tokens
}
