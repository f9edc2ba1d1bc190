package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestRefreshTokenIsBoundToItsClient: a password grant's refresh token is
// redeemed only by the client its login named (RFC 6749 section 6), the
// client_id "" of a login that named none included: another client_id,
// none for a login that named one, or another confidential client with
// its own right secret are refused with invalid_grant, and the refusal
// uses nothing up, so the token's own client refreshes with it after.
func TestRefreshTokenIsBoundToItsClient(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin := s.adminToken()
		bff := s.createClient(admin, `{"name":"BFF","first_party":true,"confidential":true}`)
		other := s.createClient(admin, `{"name":"Other BFF","first_party":true,"confidential":true}`)
		a, _ := s.signUp()
		login := func(client string, header http.Header) string {
			t.Helper()
			v := url.Values{"username": {a.Username}, "password": {a.Password}}
			if client != "" {
				v.Set("client_id", client)
			}
			res := s.do(req{method: "POST", path: tokenPath, body: v.Encode(), contentType: formType, header: header})
			if res.Status != http.StatusOK {
				t.Fatalf("login by %q: got %v, want 200", client, res)
			}
			return res.object(t)["refresh_token"].(string)
		}
		refresh := func(token, client string, header http.Header) response {
			t.Helper()
			v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
			if client != "" {
				v.Set("client_id", client)
			}
			return s.do(req{method: "POST", path: tokenPath, body: v.Encode(), contentType: formType, header: header})
		}
		refused := func(token, client string, header http.Header) {
			t.Helper()
			wantOAuthError(t, refresh(token, client, header), http.StatusBadRequest, "invalid_grant", "")
		}
		redeemed := func(token, client string, header http.Header) string {
			t.Helper()
			res := refresh(token, client, header)
			if res.Status != http.StatusOK {
				t.Fatalf("refresh by its own client %q: got %v, want 200", client, res)
			}
			return res.object(t)["refresh_token"].(string)
		}

		// A public client's token (a client_id that is only a label).
		rt := login("app-a", nil)
		refused(rt, "app-b", nil)
		refused(rt, "", nil)
		refused(rt, "", basicClient(bff.ClientID, bff.ClientSecret))
		rt = redeemed(rt, "app-a", nil)
		redeemed(rt, "app-a", nil)

		// A login that named no client: its tokens are that client's.
		rt = login("", nil)
		refused(rt, "app-a", nil)
		redeemed(rt, "", nil)

		// A confidential client's token: another confidential client that
		// authenticates, or anyone without the secret, is refused.
		rt = login("", basicClient(bff.ClientID, bff.ClientSecret))
		refused(rt, "", basicClient(other.ClientID, other.ClientSecret))
		refused(rt, "", nil)
		redeemed(rt, "", basicClient(bff.ClientID, bff.ClientSecret))
	})
}

// TestRefreshByAnotherClientUsesNothingUp: the password grant's refresh
// tokens are bound to their client, and another client's attempt is
// refused before anything is used or revoked: with an unused token, it
// does not use it up; with a used one shown after the reuse grace, it is
// not taken for the reuse that revokes the session (which a token thief
// showing it under another client_id, or a confidential client with its
// own right secret, could otherwise do to the owner's session at will).
// Only the token's own client's reuse revokes the session.
func TestRefreshByAnotherClientUsesNothingUp(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin := s.adminToken()
		bff := s.createClient(admin, `{"name":"BFF","first_party":true,"confidential":true}`)
		other := s.createClient(admin, `{"name":"Other BFF","first_party":true,"confidential":true}`)
		a, _ := s.signUp()
		own, foreign := basicClient(bff.ClientID, bff.ClientSecret), basicClient(other.ClientID, other.ClientSecret)
		login := url.Values{"username": {a.Username}, "password": {a.Password}}.Encode()
		res := s.do(req{method: "POST", path: tokenPath, body: login, contentType: formType, header: own})
		if res.Status != http.StatusOK {
			t.Fatalf("login: got %v, want 200", res)
		}
		refresh := func(token string, h http.Header) response {
			t.Helper()
			body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}.Encode()
			return s.do(req{method: "POST", path: tokenPath, body: body, contentType: formType, header: h})
		}
		first := res.object(t)["refresh_token"].(string)
		wantOAuthError(t, refresh(first, foreign), http.StatusBadRequest, "invalid_grant", "")
		res = refresh(first, own)
		if res.Status != http.StatusOK {
			t.Fatalf("its own client after another's attempt: got %v, want 200", res)
		}
		second := res.object(t)["refresh_token"].(string)

		s.Clock.Advance(time.Minute) // past the reuse grace: the first token is a reuse now
		for _, h := range []http.Header{foreign, nil} {
			wantOAuthError(t, refresh(first, h), http.StatusBadRequest, "invalid_grant", "")
		}
		res = refresh(second, own)
		if res.Status != http.StatusOK {
			t.Fatalf("the session after others showed its used token: got %v, want 200 (not revoked)", res)
		}
		third := res.object(t)["refresh_token"].(string)
		s.Clock.Advance(time.Minute)
		wantOAuthError(t, refresh(second, own), http.StatusBadRequest, "invalid_grant", "")
		wantOAuthError(t, refresh(third, own), http.StatusBadRequest, "invalid_grant", "") // its own client's reuse ended it
	})
}
