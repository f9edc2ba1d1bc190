package web_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
)

// BenchmarkSignInPage renders GET /sign-in through the whole handler (the
// API's middleware included), in process: the ceiling of what the page
// can serve, before the network.
func BenchmarkSignInPage(b *testing.B) {
	s := apptest.New(b, apptest.SQLite)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			s.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sign-in", nil))
			if rec.Code != http.StatusOK {
				b.Fatalf("GET /sign-in: %d", rec.Code)
			}
		}
	})
}
