package httpapi_test

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/config"
)

const publicURL = "https://auth.example.com"

// TestDiscoveryDocuments: with a public URL, the RFC 8414 metadata and the
// OpenID discovery document name the tokens' issuer and absolute links to
// the token, JWKS and revocation endpoints, which answer.
func TestDiscoveryDocuments(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, apptest.Env("USERSVC_PUBLIC_URL", publicURL+"/"))
		_, access := s.signedUp()
		if iss := claims(t, access)["iss"]; iss != publicURL {
			t.Fatalf("token iss = %v, want the public URL %s (the default issuer)", iss, publicURL)
		}
		for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
			res := s.do(req{method: "GET", path: path})
			if res.Status != http.StatusOK || res.Header.Get("Cache-Control") == "" {
				t.Fatalf("GET %s = %v (Cache-Control %q), want 200 with a Cache-Control", path, res, res.Header.Get("Cache-Control"))
			}
			m := res.object(t)
			for member, want := range map[string]any{
				"issuer":              publicURL,
				"token_endpoint":      publicURL + "/api/v1/token",
				"jwks_uri":            publicURL + "/.well-known/jwks.json",
				"revocation_endpoint": publicURL + "/api/v1/revoke",
			} {
				if m[member] != want {
					t.Errorf("%s: %s = %v, want %v", path, member, m[member], want)
				}
			}
			for member, want := range map[string][]any{
				"grant_types_supported":                 {"password", "refresh_token"},
				"token_endpoint_auth_methods_supported": {"none"},
				"response_types_supported":              {},
			} {
				if got, ok := m[member].([]any); !ok || !slices.Equal(got, want) {
					t.Errorf("%s: %s = %v, want %v", path, member, m[member], want)
				}
			}
			if m["service_documentation"] != publicURL+"/docs" {
				t.Errorf("%s: service_documentation = %v, want the docs page", path, m["service_documentation"])
			}
			// Every link answers here (the public URL's host is this server).
			for _, member := range []string{"jwks_uri"} {
				link := m[member].(string)[len(publicURL):]
				if res := s.do(req{method: "GET", path: link}); res.Status != http.StatusOK {
					t.Errorf("%s: %s (%s) answers %v", path, member, link, res)
				}
			}
		}
		if m := s.do(req{method: "GET", path: "/.well-known/oauth-authorization-server"}).object(t); m["subject_types_supported"] != nil {
			t.Errorf("the RFC 8414 document has OpenID members: %v", m)
		}
		oidc := s.do(req{method: "GET", path: "/.well-known/openid-configuration"}).object(t)
		if algs, _ := oidc["id_token_signing_alg_values_supported"].([]any); !slices.Equal(algs, []any{"HS256"}) {
			t.Errorf("id_token_signing_alg_values_supported = %v, want the tokens' algorithm [HS256]", algs)
		}
		if subj, _ := oidc["subject_types_supported"].([]any); !slices.Equal(subj, []any{"public"}) {
			t.Errorf("subject_types_supported = %v, want [public]", subj)
		}
	})
}

// TestDiscoveryOffWithoutPublicURL: without a public URL there are no
// absolute links to publish: 404 with a detail naming the variable.
func TestDiscoveryOffWithoutPublicURL(t *testing.T) {
	s := newServer(t, apptest.SQLite)
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		body := wantProblem(t, s.do(req{method: "GET", path: path}), http.StatusNotFound, "")
		if d, _ := body["detail"].(string); !regexp.MustCompile(`USERSVC_PUBLIC_URL`).MatchString(d) {
			t.Errorf("GET %s detail %q, want it to name USERSVC_PUBLIC_URL", path, d)
		}
	}
	_, access := s.signedUp()
	if iss := claims(t, access)["iss"]; iss != config.DefaultIssuer {
		t.Errorf("token iss without a public URL = %v, want %s", iss, config.DefaultIssuer)
	}
}

// TestJWKSMaxAgeIsWellUnderThePublishDelay: a verifier that caches the
// JWKS as long as it may, and reloads at its expiry, has seen a rotated key
// before the key signs: the max-age plus the replicas' reload interval
// must be at most half the default publish delay.
func TestJWKSMaxAgeIsWellUnderThePublishDelay(t *testing.T) {
	s := newServer(t, apptest.SQLite)
	res := s.do(req{method: "GET", path: "/.well-known/jwks.json"})
	m := regexp.MustCompile(`(?:^|,\s*)max-age=(\d+)(?:,|$)`).FindStringSubmatch(res.Header.Get("Cache-Control"))
	if m == nil {
		t.Fatalf("JWKS Cache-Control %q has no max-age", res.Header.Get("Cache-Control"))
	}
	seconds, _ := strconv.Atoi(m[1])
	maxAge := time.Duration(seconds) * time.Second
	cfg, err := config.Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if maxAge <= 0 || 2*(maxAge+app.KeyReloadEvery) > cfg.KeyPublishDelay {
		t.Errorf("JWKS max-age %s + reload %s is not well under the default publish delay %s", maxAge, app.KeyReloadEvery, cfg.KeyPublishDelay)
	}
}
