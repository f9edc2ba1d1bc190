package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// defaultUI is UI when no variable sets it.
var defaultUI = Pages{UI: true, UIProductName: "usersvc", UIAccentColor: "#1d4ed8"}

func TestLoadUIReadsEveryVariable(t *testing.T) {
	c, err := Load([]string{
		"USERSVC_UI=off",
		"USERSVC_UI_PRODUCT_NAME=Example Accounts",
		"USERSVC_UI_LOGO_URL=https://cdn.example.com/logo.svg",
		"USERSVC_UI_ACCENT_COLOR=#7A1F5C",
		"USERSVC_UI_RETURN_TO_ORIGINS=https://app.example.com/, https://shop.example.com",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := Pages{UI: false, UIProductName: "Example Accounts", UILogoURL: "https://cdn.example.com/logo.svg",
		UIAccentColor: "#7A1F5C", UIReturnToOrigins: []string{"https://app.example.com", "https://shop.example.com"}}
	if diff := cmp.Diff(want, c.Pages); diff != "" {
		t.Errorf("UI (-want +got):\n%s", diff)
	}
}

func TestLoadUIRefusesBadValues(t *testing.T) {
	for _, tt := range []struct{ set, name string }{
		{"USERSVC_UI=maybe", "USERSVC_UI"},
		{"USERSVC_UI_PRODUCT_NAME=" + strings.Repeat("x", MaxProductName+1), "USERSVC_UI_PRODUCT_NAME"},
		{"USERSVC_UI_LOGO_URL=javascript:alert(1)", "USERSVC_UI_LOGO_URL"},
		{"USERSVC_UI_LOGO_URL=//evil.example/logo.png", "USERSVC_UI_LOGO_URL"},
		{"USERSVC_UI_LOGO_URL=ftp://cdn.example.com/logo.png", "USERSVC_UI_LOGO_URL"},
		{"USERSVC_UI_ACCENT_COLOR=blue", "USERSVC_UI_ACCENT_COLOR"},
		{"USERSVC_UI_ACCENT_COLOR=#1d4ed8;}body{display:none", "USERSVC_UI_ACCENT_COLOR"},
		{"USERSVC_UI_ACCENT_COLOR=#ffee00", "USERSVC_UI_ACCENT_COLOR"}, // too light for white text
		{"USERSVC_UI_RETURN_TO_ORIGINS=https://app.example.com/path", "USERSVC_UI_RETURN_TO_ORIGINS"},
		{"USERSVC_UI_RETURN_TO_ORIGINS=javascript:alert(1)", "USERSVC_UI_RETURN_TO_ORIGINS"},
	} {
		_, err := Load([]string{tt.set}, "")
		if err == nil || !strings.Contains(err.Error(), tt.name+":") {
			t.Errorf("%s: error %v, want one naming %s", tt.set, err, tt.name)
		}
	}
}

func TestLogoAndReturnOriginsMustBeHTTPSInProduction(t *testing.T) {
	for _, set := range []string{"USERSVC_UI_LOGO_URL=http://cdn.example.com/logo.png", "USERSVC_UI_RETURN_TO_ORIGINS=http://app.example.com"} {
		name, _, _ := strings.Cut(set, "=")
		if _, err := Load(append(productionEnv(Production), set), ""); err == nil || !strings.Contains(err.Error(), name+":") {
			t.Errorf("production with %s: error %v, want one naming it", set, err)
		}
		if _, err := Load([]string{set}, ""); err != nil {
			t.Errorf("development with %s: %v", set, err)
		}
	}
}

func TestContrastWithWhite(t *testing.T) {
	for hex, want := range map[string]float64{"#000000": 21, "#ffffff": 1, "#1d4ed8": 6.7} {
		if got := ContrastWithWhite(hex); got < want-0.1 || got > want+0.1 {
			t.Errorf("ContrastWithWhite(%s) = %.2f, want %.1f", hex, got, want)
		}
	}
}

// With USERSVC_PUBLIC_URL set and the links unset, the mail links land on
// the hosted pages; production accepts them as they are https.
func TestLinksDefaultToTheHostedPages(t *testing.T) {
	environ := []string{ // productionEnv without the links
		"USERSVC_ENV=production", "USERSVC_KEY_ENCRYPTION_KEY=" + kek, "USERSVC_PUBLIC_URL=https://auth.example.com/",
		"USERSVC_MAILER=smtp", "USERSVC_SMTP_HOST=smtp.example.com", "USERSVC_MAIL_FROM=no-reply@example.com",
	}
	c, err := Load(environ, "")
	if err != nil {
		t.Fatalf("production with USERSVC_PUBLIC_URL and no links: %v", err)
	}
	want := [3]string{
		"https://auth.example.com/verify-email?token={token}",
		"https://auth.example.com/reset-password?token={token}",
		"https://auth.example.com/undo-email-change?token={token}",
	}
	if got := [3]string{c.VerifyEmailURL, c.PasswordResetURL, c.UndoEmailChangeURL}; got != want {
		t.Errorf("links = %q, want %q", got, want)
	}
	// A link that is set wins; with the pages off the default is the
	// development one again, which production refuses.
	c, err = Load(append(environ, "USERSVC_VERIFY_EMAIL_URL=https://app.example.com/v?t={token}"), "")
	if err != nil || c.VerifyEmailURL != "https://app.example.com/v?t={token}" {
		t.Errorf("a set link: %q, %v", c.VerifyEmailURL, err)
	}
	if _, err := Load(append(environ, "USERSVC_UI=off"), ""); err == nil || !strings.Contains(err.Error(), "USERSVC_VERIFY_EMAIL_URL") {
		t.Errorf("production, pages off, no links: error %v, want a refusal of the localhost links", err)
	}
}

func TestCookieSecure(t *testing.T) {
	for _, tt := range []struct {
		env, public string
		want        bool
	}{
		{Development, "", false}, {Development, "http://localhost:8080", false},
		{Development, "https://auth.example.com", true}, {Production, "https://auth.example.com", true}, {Production, "", true},
	} {
		c := Config{Env: tt.env, PublicURL: tt.public}
		if got := c.CookieSecure(); got != tt.want {
			t.Errorf("%s with %q: CookieSecure = %v, want %v", tt.env, tt.public, got, tt.want)
		}
	}
}
