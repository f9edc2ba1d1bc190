package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

func TestLinkQueryEscapesTheToken(t *testing.T) {
	for _, tt := range []struct{ tmpl, token, want string }{
		{"https://a.example.com/v?token={token}", "abc", "https://a.example.com/v?token=abc"},
		{"https://a.example.com/v?token={token}", "a+b/c=d&e f", "https://a.example.com/v?token=a%2Bb%2Fc%3Dd%26e+f"},
		{"http://localhost:3000/r?t={token}&again={token}", "x#y", "http://localhost:3000/r?t=x%23y&again=x%23y"},
	} {
		if got := Link(tt.tmpl, tt.token); got != tt.want {
			t.Errorf("Link(%q, %q) = %q, want %q", tt.tmpl, tt.token, got, tt.want)
		}
	}
}

func TestCheckLinkTemplate(t *testing.T) {
	for _, ok := range []string{"https://app.example.com/verify?token={token}", "http://localhost:3000/reset/{token}"} {
		if err := CheckLinkTemplate(ok); err != nil {
			t.Errorf("CheckLinkTemplate(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"https://app.example.com/verify", "/verify?token={token}", "javascript:alert({token})", "ftp://example.com/{token}", "https:///x?{token}", ""} {
		if err := CheckLinkTemplate(bad); err == nil {
			t.Errorf("CheckLinkTemplate(%q) = nil, want an error", bad)
		}
	}
}

func TestValidFor(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour:   "24 hours",
		time.Hour:        "1 hour",
		72 * time.Hour:   "3 days",
		30 * time.Minute: "30 minutes",
		90 * time.Minute: "90 minutes",
		time.Minute:      "1 minute",
		10 * time.Second: "1 minute",
	} {
		if got := validFor(d); got != want {
			t.Errorf("validFor(%s) = %q, want %q", d, got, want)
		}
	}
}

// Every message renders with each field in both parts, and the HTML part
// escapes what it inserts while the text part keeps it as it is.
func TestTemplatesRenderEveryField(t *testing.T) {
	tmpl, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	c := content{Email: `a<b>"d"@example.com`, Link: "https://a.example.com/v?token=t1&x=2", Token: "t1", ValidFor: "2 days"}
	for _, name := range []string{string(user.MailVerifyEmail), string(user.MailResetPassword)} {
		m, err := tmpl.render(name, c)
		if err != nil {
			t.Fatalf("render %s: %v", name, err)
		}
		if m.To != c.Email || m.Subject == "" {
			t.Errorf("%s: To %q Subject %q", name, m.To, m.Subject)
		}
		for _, want := range []string{c.Email, c.Link, "Token: t1", "2 days"} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("%s text lacks %q:\n%s", name, want, m.Text)
			}
		}
		for _, want := range []string{"a&lt;b&gt;&#34;d&#34;@example.com", `href="https://a.example.com/v?token=t1&amp;x=2"`, "<code>t1</code>", "2 days"} {
			if !strings.Contains(m.HTML, want) {
				t.Errorf("%s HTML lacks %q:\n%s", name, want, m.HTML)
			}
		}
	}
}
