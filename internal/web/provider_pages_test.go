package web_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/web"
)

// TestProviderPagesSpeakTheCatalogue: the OpenID provider's consent page
// and dead-request page take every word from the pages' catalogue: a
// deployment's translation (Options.Catalogue) changes the language, the
// title with the client's name in it, each scope's explanation (a scope
// the catalogue does not know is shown as named) and the buttons. The
// consent page's policy lets its form's answer go to the client's origin.
func TestProviderPagesSpeakTheCatalogue(t *testing.T) {
	fr := web.Messages()
	for k, v := range map[string]string{
		"lang": "fr", "skip": "Aller au contenu",
		"consent.title":      "Autoriser %s à utiliser votre compte ?",
		"consent.asks_at":    "%s, sur %s, demande à :",
		"consent.allow":      "Autoriser",
		"consent.deny":       "Refuser",
		"consent.later_link": "Applications connectées de votre compte",
		"scope.openid":       "Savoir qui vous êtes",
		"scope.email":        "Voir votre adresse e-mail",
		"oidc.dead.title":    "Cette demande de connexion a expiré",
	} {
		fr[k] = v
	}
	p, err := web.New(nil, web.Options{Key: bytes.Repeat([]byte{7}, 32), ProductName: "Maison", Catalogue: fr})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	p.ConsentPage(rec, httptest.NewRequest(http.MethodGet, "/oauth/login?id=r1", nil), web.Consent{
		Client: "Partenaire", Host: "app.example.org", User: "ada", Scopes: []string{"openid", "email", "photos"},
		Action: "/oauth/consent", Hidden: []web.HiddenField{{Name: "id", Value: "r1"}}, FormTarget: "https://app.example.org",
	})
	page := rec.Body.String()
	for _, want := range []string{
		`<html lang="fr">`, `<a class="skip" href="#main">Aller au contenu</a>`,
		"<title>Autoriser Partenaire à utiliser votre compte ? · Maison</title>",
		"<h1>Autoriser Partenaire à utiliser votre compte ?</h1>",
		"Partenaire, sur app.example.org, demande à :",
		"<li>Savoir qui vous êtes</li>", "<li>Voir votre adresse e-mail</li>", "<li>photos</li>",
		`<input type="hidden" name="id" value="r1">`, `value="allow">Autoriser</button>`, `value="deny" class="quiet">Refuser</button>`,
		`<a href="/account/apps">Applications connectées de votre compte</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the translated consent page lacks %s\n%s", want, page)
		}
	}
	if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "form-action 'self' https://app.example.org;") {
		t.Errorf("consent page: %d, CSP %q, want 200 with the client's origin as a form-action", rec.Code, rec.Header().Get("Content-Security-Policy"))
	}

	rec = httptest.NewRecorder()
	p.DeadRequestPage(rec, httptest.NewRequest(http.MethodGet, "/oauth/login?id=gone", nil))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "<h1>Cette demande de connexion a expiré</h1>") ||
		!strings.Contains(rec.Header().Get("Content-Security-Policy"), "form-action 'self';") {
		t.Errorf("dead request page: %d %q\n%s", rec.Code, rec.Header().Get("Content-Security-Policy"), rec.Body)
	}
}
