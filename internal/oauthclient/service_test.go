package oauthclient_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/oauthclient/oauthclienttest"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
)

var now = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

type fixture struct {
	svc    *oauthclient.Service
	store  *oauthclienttest.Memory
	tokens *security.JWT
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	tokens, err := security.NewHS256([]byte(strings.Repeat("k", 32)), "https://id.example.com", time.Hour, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	store := oauthclienttest.NewMemory()
	return fixture{
		svc:    oauthclient.NewService(oauthclient.Deps{Store: store, Tokens: tokens, Now: func() time.Time { return now }}),
		store:  store,
		tokens: tokens,
	}
}

var admin = oauthclient.Operator()

func TestCheckRedirectURI(t *testing.T) {
	for _, tt := range []struct {
		uri string
		ok  bool
	}{
		{"https://app.example.com/callback", true},
		{"https://app.example.com:8443/cb?x=1", true},
		{"http://127.0.0.1:8080/cb", true},
		{"http://[::1]/cb", true},
		{"http://localhost:3000/api/auth/callback/usersvc", true},
		{"http://app.example.com/cb", false},       // http off loopback
		{"https://app.example.com/cb#frag", false}, // fragment
		{"https://*.example.com/cb", false},        // wildcard
		{"https://app.example.com/*", false},       // wildcard
		{"/relative/cb", false},                    // not absolute
		{"com.example.app:/cb", false},             // no host
		{"javascript:alert(1)", false},
		{"https://user:pw@app.example.com/cb", false},
		{"https://app.example.com/c b", false},
		{"ftp://app.example.com/cb", false},
		{"", false},
	} {
		if err := oauthclient.CheckRedirectURI(tt.uri); (err == nil) != tt.ok {
			t.Errorf("CheckRedirectURI(%q) = %v, want ok=%v", tt.uri, err, tt.ok)
		}
	}
}

func TestCreateDefaults(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		n        oauthclient.NewClient
		password bool
		grants   []string
	}{
		{"first-party web app gets the password grant", oauthclient.NewClient{Name: "Web", FirstParty: true, RedirectURIs: []string{"https://app.example.com/cb"}}, true, nil},
		{"third-party app does not", oauthclient.NewClient{Name: "Partner", RedirectURIs: []string{"https://partner.example.com/cb"}}, false, nil},
		{"confidential without redirects is a service account", oauthclient.NewClient{Name: "Reporter", Confidential: true, Scopes: []string{"users:read"}}, false, []string{"client_credentials"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, secret, err := f.svc.Create(ctx, admin, tt.n)
			if err != nil {
				t.Fatalf("Create = %v", err)
			}
			if c.PasswordGrant() != tt.password {
				t.Errorf("PasswordGrant = %v, want %v (grants %v)", c.PasswordGrant(), tt.password, c.Grants)
			}
			if tt.grants != nil && !slices.Equal(c.Grants, tt.grants) {
				t.Errorf("Grants = %v, want %v", c.Grants, tt.grants)
			}
			if (secret != "") != tt.n.Confidential {
				t.Errorf("secret %q for confidential=%v", secret, tt.n.Confidential)
			}
			stored, _ := f.store.Client(ctx, c.ID)
			if secret != "" && (strings.Contains(string(stored.SecretHash), secret) || len(stored.SecretHash) != 32) {
				t.Errorf("the store keeps %x, not a SHA-256 of the secret", stored.SecretHash)
			}
		})
	}
}

func TestCreateRefuses(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name  string
		n     oauthclient.NewClient
		field string
	}{
		{"no name", oauthclient.NewClient{RedirectURIs: []string{"https://a.example.com/cb"}}, "name"},
		{"http redirect", oauthclient.NewClient{Name: "a", RedirectURIs: []string{"http://a.example.com/cb"}}, "redirect_uris"},
		{"code without redirect", oauthclient.NewClient{Name: "a", Grants: []string{"authorization_code"}}, "redirect_uris"},
		{"public service account", oauthclient.NewClient{Name: "a", Grants: []string{"client_credentials"}}, "grant_types"},
		{"unknown grant", oauthclient.NewClient{Name: "a", Confidential: true, Grants: []string{"implicit"}}, "grant_types"},
		{"unknown scope", oauthclient.NewClient{Name: "a", Confidential: true, Scopes: []string{"root"}}, "scopes"},
		{"admin scope without client_credentials", oauthclient.NewClient{Name: "a", RedirectURIs: []string{"https://a.example.com/cb"}, Scopes: []string{"users:write"}}, "scopes"},
		{"public with a secret method", oauthclient.NewClient{Name: "a", AuthMethod: "client_secret_post", RedirectURIs: []string{"https://a.example.com/cb"}}, "token_endpoint_auth_method"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.svc.Create(context.Background(), admin, tt.n)
			var ve *user.ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field {
				t.Errorf("Create = %v, want a validation error on %s", err, tt.field)
			}
		})
	}
	if _, _, err := f.svc.Create(context.Background(), user.User{Role: user.RoleUser, IsActive: true}, oauthclient.NewClient{Name: "x"}); !errors.Is(err, user.ErrForbidden) {
		t.Errorf("Create by a user = %v, want ErrForbidden", err)
	}
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	conf, secret, err := f.svc.Create(ctx, admin, oauthclient.NewClient{Name: "Conf", Confidential: true, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	post, postSecret, err := f.svc.Create(ctx, admin, oauthclient.NewClient{Name: "Post", Confidential: true, AuthMethod: oauthclient.AuthSecretPost, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := f.svc.Create(ctx, admin, oauthclient.NewClient{Name: "SPA", RedirectURIs: []string{"https://spa.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	basic, body := oauthclient.AuthSecretBasic, oauthclient.AuthSecretPost
	for _, tt := range []struct {
		name        string
		cr          oauthclient.Credentials
		ok          bool
		wrongMethod bool // refused as ErrWrongMethod, uncompared
	}{
		{"right secret by basic", oauthclient.Credentials{ID: conf.ID, Secret: secret, Method: basic}, true, false},
		{"right secret by the wrong method", oauthclient.Credentials{ID: conf.ID, Secret: secret, Method: body}, false, true},
		{"wrong secret by the wrong method", oauthclient.Credentials{ID: conf.ID, Secret: secret + "x", Method: body}, false, true},
		{"right secret by no method", oauthclient.Credentials{ID: conf.ID, Secret: secret}, false, false},
		{"wrong secret", oauthclient.Credentials{ID: conf.ID, Secret: secret + "x", Method: basic}, false, false},
		{"no secret", oauthclient.Credentials{ID: conf.ID}, false, false},
		{"no secret by the wrong method", oauthclient.Credentials{ID: conf.ID, Method: body}, false, false},
		{"another client's secret", oauthclient.Credentials{ID: conf.ID, Secret: postSecret, Method: basic}, false, false},
		{"post client by post", oauthclient.Credentials{ID: post.ID, Secret: postSecret, Method: body}, true, false},
		{"post client by basic", oauthclient.Credentials{ID: post.ID, Secret: postSecret, Method: basic}, false, true},
		{"public without secret", oauthclient.Credentials{ID: pub.ID}, true, false},
		{"public with a secret", oauthclient.Credentials{ID: pub.ID, Secret: "x", Method: basic}, false, false},
		{"unknown", oauthclient.Credentials{ID: "nobody"}, false, false},
		{"unknown with a secret", oauthclient.Credentials{ID: "nobody", Secret: "x", Method: body}, false, false},
	} {
		_, err := f.svc.Authenticate(ctx, tt.cr)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, oauthclient.ErrInvalidClient)) {
			t.Errorf("%s: Authenticate = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if errors.Is(err, oauthclient.ErrWrongMethod) != tt.wrongMethod {
			t.Errorf("%s: Authenticate = %v, want ErrWrongMethod %v", tt.name, err, tt.wrongMethod)
		}
	}
	if _, err := f.svc.AuthorizeGrant(ctx, oauthclient.Credentials{ID: pub.ID}, oauthclient.GrantPassword); !errors.Is(err, oauthclient.ErrUnauthorizedClient) {
		t.Errorf("public third-party password grant = %v, want ErrUnauthorizedClient", err)
	}
	if _, err := f.svc.AuthorizeGrant(ctx, oauthclient.Credentials{ID: "nobody"}, oauthclient.GrantPassword); !errors.Is(err, oauthclient.ErrNotFound) {
		t.Errorf("unregistered client = %v, want ErrNotFound", err)
	}

	// A rotation: the new secret works, the old one no longer.
	_, rotated, err := f.svc.RotateSecret(ctx, admin, conf.ID)
	if err != nil || rotated == secret {
		t.Fatalf("RotateSecret = %q, %v", rotated, err)
	}
	if _, err := f.svc.Authenticate(ctx, oauthclient.Credentials{ID: conf.ID, Secret: secret, Method: basic}); err == nil {
		t.Error("the secret before the rotation still authenticates")
	}
	if _, err := f.svc.Authenticate(ctx, oauthclient.Credentials{ID: conf.ID, Secret: rotated, Method: basic}); err != nil {
		t.Errorf("the rotated secret: %v", err)
	}
	if _, _, err := f.svc.RotateSecret(ctx, admin, pub.ID); !errors.Is(err, oauthclient.ErrPublicClient) {
		t.Errorf("RotateSecret(public) = %v, want ErrPublicClient", err)
	}
	// Deleted: nothing authenticates.
	if err := f.svc.Delete(ctx, admin, conf.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, oauthclient.Credentials{ID: conf.ID, Secret: rotated, Method: basic}); !errors.Is(err, oauthclient.ErrInvalidClient) {
		t.Errorf("deleted client authenticates: %v", err)
	}
}

// recordingGuard is a SecretGuard that locks out the "id from" pairs in
// locked and records the failures it is told of, as "id from".
type recordingGuard struct {
	locked map[string]bool
	failed []string
}

func (g *recordingGuard) Admit(_ context.Context, id, from string) error {
	if g.locked[id+" "+from] {
		return fmt.Errorf("%w: try again later", oauthclient.ErrClientLocked)
	}
	return nil
}

func (g *recordingGuard) Failed(_ context.Context, id, from string) {
	g.failed = append(g.failed, id+" "+from)
}

// TestAuthenticateUnderTheGuard: only a secret compared with a registered
// confidential client's and found wrong is counted (not a success, not a
// made-up client id, not a public client's, not a request without a
// secret, not one sent by another method than the client's, which is
// refused uncompared); the guard hears the address of each failure; a
// client the guard locked out at an address is refused from there
// whatever it sends, its right secret too, and that refusal is not
// counted again, while the client goes on from another address.
func TestAuthenticateUnderTheGuard(t *testing.T) {
	g := &recordingGuard{locked: map[string]bool{}}
	store := oauthclienttest.NewMemory()
	svc := oauthclient.NewService(oauthclient.Deps{Store: store, Guard: g, Now: func() time.Time { return now }})
	ctx := context.Background()
	conf, secret, err := svc.Create(ctx, admin, oauthclient.NewClient{Name: "Conf", Confidential: true, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := svc.Create(ctx, admin, oauthclient.NewClient{Name: "SPA", RedirectURIs: []string{"https://spa.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	basic := oauthclient.AuthSecretBasic
	for _, cr := range []oauthclient.Credentials{
		{ID: conf.ID, Secret: secret, Method: basic},
		{ID: conf.ID},
		{ID: "made-up", Secret: "guess", Method: basic},
		{ID: pub.ID, Secret: "guess", Method: basic},
		{ID: pub.ID},
		{ID: conf.ID, Secret: secret, Method: oauthclient.AuthSecretPost},
		{ID: conf.ID, Secret: "guess", Method: oauthclient.AuthSecretPost},
	} {
		_, _ = svc.Authenticate(ctx, cr)
	}
	if len(g.failed) != 0 {
		t.Errorf("counted %q; want nothing but wrong secrets of a confidential client", g.failed)
	}
	const attacker, own = "198.51.100.9", "203.0.113.10"
	for _, s := range []string{secret + "x", "ucs_guess"} {
		if _, err := svc.Authenticate(ctx, oauthclient.Credentials{ID: conf.ID, Secret: s, Method: basic, From: attacker}); !errors.Is(err, oauthclient.ErrInvalidClient) {
			t.Errorf("Authenticate(wrong secret %q) = %v, want ErrInvalidClient", s, err)
		}
	}
	if want := conf.ID + " " + attacker; !slices.Equal(g.failed, []string{want, want}) {
		t.Errorf("counted %q; want the two failures of %s at %s", g.failed, conf.ID, attacker)
	}
	g.locked[conf.ID+" "+attacker], g.failed = true, nil
	for _, s := range []string{secret, "wrong"} {
		if _, err := svc.Authenticate(ctx, oauthclient.Credentials{ID: conf.ID, Secret: s, Method: basic, From: attacker}); !errors.Is(err, oauthclient.ErrClientLocked) {
			t.Errorf("a locked client with secret %q: %v, want ErrClientLocked", s, err)
		}
		if _, err := svc.AuthorizeGrant(ctx, oauthclient.Credentials{ID: conf.ID, Secret: s, Method: basic, From: attacker}, oauthclient.GrantPassword); !errors.Is(err, oauthclient.ErrClientLocked) {
			t.Errorf("AuthorizeGrant of a locked client with secret %q: %v, want ErrClientLocked", s, err)
		}
	}
	if err := svc.Admit(ctx, conf.ID, attacker); !errors.Is(err, oauthclient.ErrClientLocked) {
		t.Errorf("Admit(locked) = %v, want ErrClientLocked", err)
	}
	if _, err := svc.Authenticate(ctx, oauthclient.Credentials{ID: conf.ID, Secret: secret, Method: basic, From: own}); err != nil {
		t.Errorf("the locked client from another address: %v, want authenticated", err)
	}
	if len(g.failed) != 0 {
		t.Errorf("refusals of a locked client were counted: %q", g.failed)
	}
	if _, err := svc.Authenticate(ctx, oauthclient.Credentials{ID: pub.ID}); err != nil {
		t.Errorf("a public client beside the locked one: %v", err)
	}
	if err := newFixture(t).svc.Admit(ctx, conf.ID, attacker); err != nil {
		t.Errorf("Admit without a guard = %v, want nil", err)
	}
}

func TestServiceAccount(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sa, _, err := f.svc.Create(ctx, admin, oauthclient.NewClient{Name: "Reporter", Confidential: true, Scopes: []string{"users:read", "audit:read"}})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(c security.Claims) string {
		tok, _, err := f.tokens.Issue(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	got, err := f.svc.ServiceAccount(ctx, mint(security.Claims{ClientID: sa.ID, Scope: "users:read users:write"}))
	if err != nil {
		t.Fatalf("ServiceAccount = %v", err)
	}
	if !slices.Equal(got.Scopes, []string{"users:read"}) || got.ClientID != sa.ID {
		t.Errorf("ServiceAccount = %+v, want users:read only (users:write is not the client's)", got)
	}
	userToken := mint(security.Claims{UserID: uuid.New(), SessionID: uuid.New(), ClientID: sa.ID})
	if _, err := f.svc.ServiceAccount(ctx, userToken); !errors.Is(err, oauthclient.ErrNotServiceAccount) {
		t.Errorf("a user's token = %v, want ErrNotServiceAccount", err)
	}
	if _, err := f.svc.ServiceAccount(ctx, "not.a.token"); !errors.Is(err, oauthclient.ErrNotServiceAccount) {
		t.Errorf("garbage = %v, want ErrNotServiceAccount", err)
	}
	// Narrowed grants, then deleted: refused at once.
	if _, err := f.svc.Update(ctx, admin, sa.ID, oauthclient.Patch{Grants: &[]string{"refresh_token"}, Scopes: &[]string{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ServiceAccount(ctx, mint(security.Claims{ClientID: sa.ID, Scope: "users:read"})); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("client no longer allowed client_credentials = %v, want ErrUnauthenticated", err)
	}
	if err := f.svc.Delete(ctx, admin, sa.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ServiceAccount(ctx, mint(security.Claims{ClientID: sa.ID, Scope: "users:read"})); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("deleted client = %v, want ErrUnauthenticated", err)
	}
}

// Every rule a registration breaks is its own ValidationError with a code
// of Codes() (for pages that say it in their own words), its English
// message the code's filled with its arguments, as the API says it.
func TestValidationErrorsCarryTheirRule(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.svc.Create(t.Context(), admin, oauthclient.NewClient{
		Name: " ", AuthMethod: "none", Grants: []string{"authorization_code", "client_credentials", "implicit"},
		Scopes: []string{"users:write", "phone"},
	})
	codes := oauthclient.Codes()
	var got []user.Code
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() { //nolint:errorlint,forcetypeassert // validate joins its errors
		v, ok := e.(*user.ValidationError) //nolint:errorlint // one level
		if !ok || !slices.Contains(codes, v.Code) {
			t.Fatalf("%v: not a ValidationError with a code of Codes()", e)
		}
		if want := fmt.Sprintf(oauthclient.Message(v.Code), v.Args...); v.Message != want {
			t.Errorf("%s: message %q, want %q", v.Code, v.Message, want)
		}
		got = append(got, v.Code)
	}
	want := []user.Code{oauthclient.CodeName, oauthclient.CodeGrantUnknown, oauthclient.CodeScopeUnknown,
		oauthclient.CodeCredentialsGrant, oauthclient.CodeRedirectRequired}
	if !slices.Equal(got, want) {
		t.Errorf("codes %q, want %q", got, want)
	}
	_, _, err = f.svc.Create(t.Context(), admin, oauthclient.NewClient{Name: "x", RedirectURIs: []string{"http://app.example.com/cb", "https://a.example.com/cb#x"}})
	for _, w := range []string{
		`redirect_uris: "http://app.example.com/cb": http is only allowed to a loopback address (127.0.0.1, [::1], localhost); use https`,
		`redirect_uris: "https://a.example.com/cb#x": must not contain a wildcard (*) or a fragment (#)`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v, want it to hold %q", err, w)
		}
	}
}
