package httpapi_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
)

type oauthClientBody struct {
	ClientID      string   `json:"client_id"`
	Name          string   `json:"name"`
	Confidential  bool     `json:"confidential"`
	AuthMethod    string   `json:"token_endpoint_auth_method"`
	RedirectURIs  []string `json:"redirect_uris"`
	GrantTypes    []string `json:"grant_types"`
	Scopes        []string `json:"scopes"`
	FirstParty    bool     `json:"first_party"`
	PasswordGrant bool     `json:"password_grant"`
	ClientSecret  string   `json:"client_secret"`
}

func (s *server) createClient(token, body string) oauthClientBody {
	s.t.Helper()
	return decode[oauthClientBody](s.t, s.do(req{method: "POST", path: "/api/v1/admin/clients", token: token, body: body}), http.StatusCreated)
}

// adminToken signs up an administrator and returns its access token.
func (s *server) adminToken() string {
	s.t.Helper()
	a, id := s.signUp()
	s.setRole(id, user.RoleAdmin)
	return s.token(a.Username, a.Password)
}

// serviceToken mints a service account's access token for client with
// scope, as the OpenID provider's client_credentials grant issues them:
// the service's own signer, sub = client_id, no session.
func (s *server) serviceToken(client, scope string) string {
	s.t.Helper()
	tok, _, err := s.App.Tokens().Issue(security.Claims{ClientID: client, Scope: scope})
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// An administrator registers, reads, changes, rotates and deletes
// clients; the secret is shown once and never read back; every change is
// audited; a user is refused.
func TestOAuthClientAdministration(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin := s.adminToken()
		c := s.createClient(admin, `{"name":"Partner","redirect_uris":["https://partner.example.com/cb"]}`)
		if c.Confidential || c.ClientSecret != "" || c.PasswordGrant || c.AuthMethod != "none" {
			t.Errorf("public third-party client = %+v: want no secret and no password grant", c)
		}
		sa := s.createClient(admin, `{"name":"Reporting","confidential":true,"grant_types":["client_credentials"],"scopes":["users:read"]}`)
		if !strings.HasPrefix(sa.ClientSecret, "ucs_") || sa.AuthMethod != "client_secret_basic" {
			t.Errorf("confidential client = %+v: want a ucs_ secret and client_secret_basic", sa)
		}
		got := decode[oauthClientBody](t, s.do(req{method: "GET", path: "/api/v1/admin/clients/" + sa.ClientID, token: admin}), http.StatusOK)
		if got.ClientSecret != "" || got.Name != "Reporting" {
			t.Errorf("GET = %+v: want the client, never its secret", got)
		}
		list := decode[struct{ Items []oauthClientBody }](t, s.do(req{method: "GET", path: "/api/v1/admin/clients", token: admin}), http.StatusOK)
		if len(list.Items) != 2 || list.Items[0].ClientSecret != "" || list.Items[1].ClientSecret != "" {
			t.Errorf("list = %+v, want both, without secrets", list.Items)
		}
		upd := decode[oauthClientBody](t, s.do(req{method: "PATCH", path: "/api/v1/admin/clients/" + sa.ClientID, token: admin, body: `{"scopes":["users:read","audit:read"]}`}), http.StatusOK)
		if strings.Join(upd.Scopes, " ") != "users:read audit:read" {
			t.Errorf("PATCH scopes = %v", upd.Scopes)
		}
		res := s.do(req{method: "PATCH", path: "/api/v1/admin/clients/" + c.ClientID, token: admin, body: `{"redirect_uris":["https://*.example.com/cb"]}`})
		wantCode(t, res, http.StatusUnprocessableEntity, "validation_failed", "validation failed: body.redirect_uris[0]")
		res = s.do(req{method: "POST", path: "/api/v1/admin/clients", token: admin, body: `{"name":"Bad","redirect_uris":["https://app.example.com/cb#x"]}`})
		wantCode(t, res, http.StatusUnprocessableEntity, "validation_failed", "validation failed: body.redirect_uris[0]")
		res = s.do(req{method: "POST", path: "/api/v1/admin/clients", token: admin, body: `{"name":"Bad","grant_types":["authorization_code"]}`})
		wantCode(t, res, http.StatusUnprocessableEntity, "validation_failed", "redirect_uris: authorization_code needs at least one redirect URI")
		rot := decode[oauthClientBody](t, s.do(req{method: "POST", path: "/api/v1/admin/clients/" + sa.ClientID + "/rotate-secret", token: admin}), http.StatusOK)
		if rot.ClientSecret == "" || rot.ClientSecret == sa.ClientSecret {
			t.Errorf("rotated secret %q: want a new one", rot.ClientSecret)
		}
		wantCode(t, s.do(req{method: "POST", path: "/api/v1/admin/clients/" + c.ClientID + "/rotate-secret", token: admin}), http.StatusConflict, "public_client", "")
		if res := s.do(req{method: "DELETE", path: "/api/v1/admin/clients/" + c.ClientID, token: admin}); res.Status != http.StatusNoContent {
			t.Fatalf("DELETE = %v", res)
		}
		wantCode(t, s.do(req{method: "GET", path: "/api/v1/admin/clients/" + c.ClientID, token: admin}), http.StatusNotFound, "client_not_found", "")
		_, userTok := s.signedUp()
		wantCode(t, s.do(req{method: "GET", path: "/api/v1/admin/clients", token: userTok}), http.StatusForbidden, "forbidden", "")

		audit := string(s.do(req{method: "GET", path: "/api/v1/admin/audit?limit=50", token: admin}).Body)
		for _, k := range []string{"oauth_client.created", "oauth_client.updated", "oauth_client.secret_rotated", "oauth_client.deleted"} {
			if !strings.Contains(audit, k) {
				t.Errorf("the audit log lacks %s", k)
			}
		}
		for _, secret := range []string{sa.ClientSecret, rot.ClientSecret} {
			if strings.Contains(audit, secret) || strings.Contains(string(s.Logs.Bytes()), secret) {
				t.Error("a client secret reached the audit log or the logs")
			}
		}
	})
}

// The password grant per client (issue 23): a registered client not
// allowed the password grant is refused with unauthorized_client before
// any password is checked; a confidential client must authenticate by its
// method; no client_id, or an unregistered one without a secret, is the
// first-party frontend as before.
func TestPasswordGrantPerClient(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin := s.adminToken()
		a, aid := s.signUp()
		third := s.createClient(admin, `{"name":"Partner SPA","redirect_uris":["https://partner.example.com/cb"]}`)
		first := s.createClient(admin, `{"name":"Web","first_party":true,"redirect_uris":["https://app.example.com/cb"]}`)
		conf := s.createClient(admin, `{"name":"BFF","first_party":true,"confidential":true}`)
		post := s.createClient(admin, `{"name":"BFF post","first_party":true,"confidential":true,"token_endpoint_auth_method":"client_secret_post"}`)
		login := func(extra ...string) url.Values {
			v := url.Values{"username": {a.Username}, "password": {a.Password}}
			for i := 0; i+1 < len(extra); i += 2 {
				v.Set(extra[i], extra[i+1])
			}
			return v
		}
		basic := func(id, secret string) http.Header {
			return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))}}
		}
		for _, tt := range []struct {
			name   string
			form   url.Values
			header http.Header
			status int
			oauth  string
		}{
			{"no client_id: the first-party frontend, as before", login(), nil, 200, ""},
			{"unregistered client_id: as before", login("client_id", "docs-page"), nil, 200, ""},
			{"public third-party client", login("client_id", third.ClientID), nil, 400, "unauthorized_client"},
			{"public third-party client by Basic", login(), basic(third.ClientID, ""), 400, "unauthorized_client"},
			{"public first-party client", login("client_id", first.ClientID), nil, 200, ""},
			{"public client with a secret", login("client_id", first.ClientID, "client_secret", "x"), nil, 401, "invalid_client"},
			{"confidential without its secret", login("client_id", conf.ClientID), nil, 401, "invalid_client"},
			{"confidential with a wrong secret", login(), basic(conf.ClientID, conf.ClientSecret+"x"), 401, "invalid_client"},
			{"confidential by the wrong method", login("client_id", conf.ClientID, "client_secret", conf.ClientSecret), nil, 401, "invalid_client"},
			{"confidential by Basic", login(), basic(conf.ClientID, conf.ClientSecret), 200, ""},
			{"confidential by post", login("client_id", post.ClientID, "client_secret", post.ClientSecret), nil, 200, ""},
			{"secret of an unregistered client", login("client_id", "docs-page", "client_secret", "s3cret"), nil, 401, "invalid_client"},
			{"secrets by two methods", login("client_secret", post.ClientSecret), basic(post.ClientID, post.ClientSecret), 401, "invalid_client"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := s.do(req{method: "POST", path: tokenPath, body: tt.form.Encode(), contentType: formType, header: tt.header})
				if tt.status == 200 {
					if res.Status != 200 {
						t.Fatalf("got %v, want 200", res)
					}
					return
				}
				wantOAuthError(t, res, tt.status, tt.oauth, "")
				if strings.Contains(string(res.Body), "access_token") {
					t.Errorf("refused but answered a token: %s", res.Body)
				}
			})
		}
		// The client is refused before the password is checked: a wrong one
		// is not even looked at, and costs the account nothing.
		wrong := login("client_id", third.ClientID)
		wrong.Set("password", "not the password")
		res := s.do(req{method: "POST", path: tokenPath, body: wrong.Encode(), contentType: formType})
		wantOAuthError(t, res, http.StatusBadRequest, "unauthorized_client", "")
		if audit := string(s.do(req{method: "GET", path: "/api/v1/admin/audit?subject_id=" + aid.String(), token: admin}).Body); strings.Contains(audit, "login.failed") {
			t.Errorf("a refused client's request was counted as a failed login: %s", audit)
		}
	})
}

// Service accounts on the admin API (issue 23): a client_credentials
// token with users:read reads users and is refused writes and everything
// else with 403 insufficient_scope and RFC 6750's challenge; a deleted
// client's token, or one whose client lost client_credentials, stops
// working at once; users' tokens are unaffected.
func TestServiceAccountsOnTheAdminAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin := s.adminToken()
		_, victim := s.signUp()
		_, userTok := s.signedUp()
		sa := s.createClient(admin, `{"name":"Reporting","confidential":true,"grant_types":["client_credentials"],"scopes":["users:read","audit:read"]}`)
		tok := s.serviceToken(sa.ClientID, "users:read audit:read")

		if res := s.do(req{method: "GET", path: "/api/v1/admin/users", token: tok}); res.Status != http.StatusOK || !strings.Contains(string(res.Body), victim.String()) {
			t.Fatalf("GET admin users with users:read = %v, want 200 with the users", res)
		}
		if res := s.do(req{method: "GET", path: "/api/v1/admin/users/" + victim.String(), token: tok}); res.Status != http.StatusOK {
			t.Errorf("GET admin user = %v, want 200", res)
		}
		if res := s.do(req{method: "GET", path: "/api/v1/admin/audit", token: tok}); res.Status != http.StatusOK {
			t.Errorf("GET admin audit with audit:read = %v, want 200", res)
		}
		for _, tt := range []struct {
			r     req
			scope string
		}{
			{req{method: "POST", path: "/api/v1/admin/users/" + victim.String() + "/deactivate"}, "users:write"},
			{req{method: "PATCH", path: "/api/v1/admin/users/" + victim.String(), body: `{"role":"admin"}`}, "users:write"},
			{req{method: "DELETE", path: "/api/v1/admin/users/" + victim.String()}, "users:write"},
			{req{method: "GET", path: "/api/v1/admin/clients"}, ""},
			{req{method: "POST", path: "/api/v1/admin/clients", body: `{"name":"x","confidential":true,"grant_types":["client_credentials"],"scopes":["users:write"]}`}, ""},
			{req{method: "GET", path: "/api/v1/admin/webhooks"}, ""},
			{req{method: "GET", path: "/api/v1/admin/jobs"}, ""},
			{req{method: "GET", path: "/api/v1/users/me"}, ""},
		} {
			tt.r.token = tok
			res := s.do(tt.r)
			wantCode(t, res, http.StatusForbidden, "insufficient_scope", "the access token's scopes do not allow this request")
			ch := res.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, `Bearer error="insufficient_scope"`) || (tt.scope != "" && !strings.Contains(ch, `scope="`+tt.scope+`"`)) {
				t.Errorf("%s %s: WWW-Authenticate %q, want insufficient_scope naming %q", tt.r.method, tt.r.path, ch, tt.scope)
			}
		}
		if u, err := s.Stores.Users.ByID(t.Context(), victim); err != nil || !u.IsActive || u.Role != user.RoleUser {
			t.Errorf("the refused writes changed the user: %+v, %v", u, err)
		}
		// A scope the client was never given is not honoured, whatever the token says.
		wantCode(t, s.do(req{method: "POST", path: "/api/v1/admin/users/" + victim.String() + "/deactivate", token: s.serviceToken(sa.ClientID, "users:write")}), http.StatusForbidden, "insufficient_scope", "")

		// With users:write granted, a write works and is audited as the client's.
		s.do(req{method: "PATCH", path: "/api/v1/admin/clients/" + sa.ClientID, token: admin, body: `{"scopes":["users:read","users:write","audit:read"]}`})
		if res := s.do(req{method: "POST", path: "/api/v1/admin/users/" + victim.String() + "/deactivate", token: s.serviceToken(sa.ClientID, "users:write")}); res.Status != http.StatusOK {
			t.Fatalf("deactivate with users:write = %v, want 200", res)
		}
		if audit := string(s.do(req{method: "GET", path: "/api/v1/admin/audit?subject_id=" + victim.String(), token: admin}).Body); !strings.Contains(audit, sa.ClientID) {
			t.Errorf("the service account's write is not audited with its client id: %s", audit)
		}

		// A user's token is unaffected, and a user's token never passes for a service account's.
		if res := s.do(req{method: "GET", path: "/api/v1/users/me", token: userTok}); res.Status != http.StatusOK {
			t.Errorf("user token = %v, want 200", res)
		}
		wantCode(t, s.do(req{method: "GET", path: "/api/v1/admin/users", token: userTok}), http.StatusForbidden, "forbidden", "")
		// A token naming a client that does not exist.
		wantCode(t, s.do(req{method: "GET", path: "/api/v1/admin/users", token: s.serviceToken("no-such-client", "users:read")}), http.StatusUnauthorized, "unauthenticated", "")

		// Deleted: its token stops working at once.
		if res := s.do(req{method: "DELETE", path: "/api/v1/admin/clients/" + sa.ClientID, token: admin}); res.Status != http.StatusNoContent {
			t.Fatalf("DELETE client = %v", res)
		}
		res := s.do(req{method: "GET", path: "/api/v1/admin/users", token: tok})
		wantCode(t, res, http.StatusUnauthorized, "unauthenticated", "")
		if res.Header.Get("WWW-Authenticate") == "" {
			t.Error("401 without a challenge")
		}

		// No longer allowed client_credentials: refused too.
		other := s.createClient(admin, `{"name":"Other","confidential":true,"grant_types":["client_credentials"],"scopes":["users:read"]}`)
		otherTok := s.serviceToken(other.ClientID, "users:read")
		s.do(req{method: "PATCH", path: "/api/v1/admin/clients/" + other.ClientID, token: admin, body: `{"grant_types":["refresh_token"],"scopes":[]}`})
		wantCode(t, s.do(req{method: "GET", path: "/api/v1/admin/users", token: otherTok}), http.StatusUnauthorized, "unauthenticated", "")
	})
}

// A service account's token never authenticates a user, even one whose id
// it names; a registry-less service honours none.
func TestServiceAccountTokenIsNoUser(t *testing.T) {
	s := newServer(t, apptest.Memory, apptest.NoClients())
	a, id := s.signUp()
	s.setRole(id, user.RoleAdmin)
	_ = a
	tok := s.serviceToken(id.String(), "users:read")
	wantCode(t, s.do(req{method: "GET", path: "/api/v1/admin/users", token: tok}), http.StatusUnauthorized, "unauthenticated", "")
	wantCode(t, s.do(req{method: "GET", path: "/api/v1/users/me", token: tok}), http.StatusUnauthorized, "unauthenticated", "")
}

// Under USERSVC_REQUIRE_MFA_FOR=admin a service account keeps its scoped
// routes: it used to be told to enrol a second factor (403
// mfa_enrolment_required), which an account-less client can never have.
// A password-only administrator is still refused.
func TestServiceAccountUnderTheAdminMFAPolicy(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, apptest.Env("USERSVC_REQUIRE_MFA_FOR", "admin"))
		a, id := s.signUp()
		s.setRole(id, user.RoleAdmin)
		password := s.token(a.Username, a.Password)
		secret, _ := s.enrolTOTP(password)
		s.Clock.Advance(time.Minute)
		admin := s.otpLogin(a, secret, 0).object(t)["access_token"].(string)
		sa := s.createClient(admin, `{"name":"Reporting","confidential":true,"grant_types":["client_credentials"],"scopes":["users:read"]}`)
		if res := s.do(req{method: "GET", path: "/api/v1/admin/users", token: s.serviceToken(sa.ClientID, "users:read")}); res.Status != http.StatusOK {
			t.Errorf("a users:read service account under REQUIRE_MFA_FOR=admin: %v, want 200", res)
		}
		wantCode(t, s.do(req{method: "GET", path: "/api/v1/admin/users", token: password}), http.StatusForbidden, "mfa_login_required", "")
	})
}

// A leaked service-account secret is answered by rotating it: the tokens
// minted with it before (by whoever has it) stop working at once, as the
// secret does. They used to keep working on the admin API until they
// expired (30 minutes, up to 24 hours as configured). A token minted with
// the new secret works.
func TestSecretRotationEndsTheTokensIssuedBefore(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin := s.adminToken()
		sa := s.createClient(admin, `{"name":"Reporting","confidential":true,"grant_types":["client_credentials"],"scopes":["users:read"]}`)
		stolen := s.serviceToken(sa.ClientID, "users:read")
		if res := s.do(req{method: "GET", path: "/api/v1/admin/users", token: stolen}); res.Status != http.StatusOK {
			t.Fatalf("before the rotation: %v", res)
		}
		s.Clock.Advance(time.Minute)
		if res := s.do(req{method: "POST", path: "/api/v1/admin/clients/" + sa.ClientID + "/rotate-secret", token: admin}); res.Status != http.StatusOK {
			t.Fatalf("rotate: %v", res)
		}
		wantCode(t, s.do(req{method: "GET", path: "/api/v1/admin/users", token: stolen}), http.StatusUnauthorized, "unauthenticated", "")
		s.Clock.Advance(time.Second)
		if res := s.do(req{method: "GET", path: "/api/v1/admin/users", token: s.serviceToken(sa.ClientID, "users:read")}); res.Status != http.StatusOK {
			t.Errorf("a token issued after the rotation: %v, want 200", res)
		}
	})
}
