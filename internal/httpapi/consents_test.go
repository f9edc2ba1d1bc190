package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
)

// The consents of the OpenID provider's relying parties over the API:
// their listing and withdrawal with consents are in internal/oidcop
// (consents_api_test.go), where a browser can give one. Here: who is
// refused, and a store that keeps none.

// TestConsentsRoutesRefuseWhoIsNoUser: GET and DELETE
// /users/me/consents are a user's own: no token is 401, and a service
// account's token (which has no account) is 403 insufficient_scope, as on
// every other /users/me route.
func TestConsentsRoutesRefuseWhoIsNoUser(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		sa := s.createClient(s.adminToken(), `{"name":"Reporting","confidential":true,"grant_types":["client_credentials"],"scopes":["users:read","audit:read"]}`)
		tok := s.serviceToken(sa.ClientID, "users:read audit:read")
		for _, r := range []req{
			{method: "GET", path: "/api/v1/users/me/consents"},
			{method: "DELETE", path: "/api/v1/users/me/consents/photo-album"},
		} {
			wantCode(t, s.do(r), http.StatusUnauthorized, "unauthenticated", "")
			r.token = tok
			wantCode(t, s.do(r), http.StatusForbidden, "insufficient_scope", "")
		}
	})
}

// TestConsentsOnAStoreWithoutProvider: the in-memory store keeps no
// OpenID provider state, so an account has no consents: the list is
// empty (not null) and a withdrawal is 404, as for a client never
// consented to.
func TestConsentsOnAStoreWithoutProvider(t *testing.T) {
	t.Parallel()
	s := newServer(t, apptest.Memory)
	_, tok := s.signedUp()
	res := s.do(req{method: "GET", path: "/api/v1/users/me/consents", token: tok})
	if res.Status != http.StatusOK || string(res.Body) != "[]\n" && string(res.Body) != "[]" {
		t.Errorf("GET /users/me/consents: %v, want 200 []", res)
	}
	wantCode(t, s.do(req{method: "DELETE", path: "/api/v1/users/me/consents/photo-album", token: tok}), http.StatusNotFound, "consent_not_found", "no consent to this client")
}
