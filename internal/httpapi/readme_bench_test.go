package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/httpapi"
)

// BenchmarkReadMe is the authenticated GET /api/v1/users/me end to end in
// process: the whole handler (middleware, access log at info to a discarded
// writer, metrics, huma, token verification, one lookup, JSON) on each
// store, and on the in-memory fake ("memory": the HTTP layer's own cost,
// without a database). "serial" is one request at a time (the cost of
// one); "parallel" is GOMAXPROCS goroutines at once, as under load. The
// service is the App's; the handler is built over it again only so that
// its access log goes to a discarded writer rather than the test's buffer.
func BenchmarkReadMe(b *testing.B) {
	for _, kind := range append([]string{apptest.Memory}, stores()...) {
		b.Run(kind, func(b *testing.B) {
			s := newServerTB(b, kind)
			h := httpapi.New(s.App.Service(), httpapi.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
			token := benchToken(b, h)
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

// benchToken registers an account through h and returns an access token
// of it.
func benchToken(b *testing.B, h http.Handler) string {
	b.Helper()
	send := func(path, contentType, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := send("/api/v1/register", "application/json", validAccount); w.Code != http.StatusCreated {
		b.Fatalf("register: %d %s", w.Code, w.Body)
	}
	w := send("/api/v1/token", formType, url.Values{"username": {"ada"}, "password": {"correct horse"}}.Encode())
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil {
		b.Fatalf("login: %d %s", w.Code, w.Body)
	}
	return out.AccessToken
}
