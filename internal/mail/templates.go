package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// templateFS holds each message as NAME.txt (text/template) and NAME.html
// (html/template, which escapes what it inserts).
//
//go:embed templates
var templateFS embed.FS

// subjects are the messages' subjects, by template name (user.MailKind).
var subjects = map[string]string{
	string(user.MailVerifyEmail):            "Confirm your email address",
	string(user.MailResetPassword):          "Reset your password",
	string(user.MailEmailChanged):           "The email address of your account was changed",
	string(user.MailPasswordChanged):        "The password of your account was changed",
	string(user.MailMFARemoved):             "A second factor of your account was removed",
	string(user.MailRecoveryCodeUsed):       "A recovery code of your account was used",
	string(user.MailPasskeyAdded):           "A passkey was added to your account",
	string(user.MailTOTPEnabled):            "An authenticator app was set up for your account",
	string(user.MailRecoveryCodesGenerated): "New recovery codes were made for your account",
	string(user.MailSecondStepFailed):       "A sign-in to your account failed at the second step",
}

// TokenPlaceholder is what a link template has where the token goes.
const TokenPlaceholder = "{token}"

// content is what the templates show: never a name or other text a user
// wrote, since mail may go to an address nobody has verified.
type content struct {
	Email    string // the address the message goes to
	Link     string // "" for a notice without a link
	Token    string
	ValidFor string // "24 hours"
}

// templates is the parsed set of messages.
type templates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

func parseTemplates() (templates, error) {
	text, err := texttemplate.New("").Option("missingkey=error").ParseFS(templateFS, "templates/*.txt")
	if err != nil {
		return templates{}, err
	}
	html, err := htmltemplate.New("").Option("missingkey=error").ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return templates{}, err
	}
	return templates{text: text, html: html}, nil
}

// render makes message name for c.
func (t templates) render(name string, c content) (Message, error) {
	var text, html bytes.Buffer
	if err := t.text.ExecuteTemplate(&text, name+".txt", c); err != nil {
		return Message{}, fmt.Errorf("render %s text: %w", name, err)
	}
	if err := t.html.ExecuteTemplate(&html, name+".html", c); err != nil {
		return Message{}, fmt.Errorf("render %s html: %w", name, err)
	}
	subject, ok := subjects[name]
	if !ok {
		return Message{}, fmt.Errorf("render %s: no such message", name)
	}
	return Message{To: c.Email, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}

// Link puts token, query-escaped, where tmpl has TokenPlaceholder.
func Link(tmpl, token string) string {
	return strings.ReplaceAll(tmpl, TokenPlaceholder, url.QueryEscape(token))
}

// CheckLinkTemplate reports whether tmpl is an absolute http(s) URL with
// TokenPlaceholder in it, e.g. https://app.example.com/verify?token={token}.
func CheckLinkTemplate(tmpl string) error {
	if !strings.Contains(tmpl, TokenPlaceholder) {
		return fmt.Errorf("%q has no %s", tmpl, TokenPlaceholder)
	}
	u, err := url.Parse(Link(tmpl, "x"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", tmpl)
	}
	return nil
}

// validFor says d in words, rounded up to whole minutes: "1 hour",
// "30 minutes", "2 days".
func validFor(d time.Duration) string {
	unit := func(n int64, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return fmt.Sprintf("%d %ss", n, name)
	}
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	default:
		return unit(max(1, int64((d+time.Minute-1)/time.Minute)), "minute")
	}
}
