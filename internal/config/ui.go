package config

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Pages is the settings of the hosted pages (internal/web): whether they are
// served, their branding and where a sign-in may send the browser back
// to. Config embeds it, so its variables sit beside the others.
type Pages struct {
	// UI says whether the pages (/sign-in, /account...) are served; off
	// for API-only deployments.
	UI Switch `env:"USERSVC_UI" envDefault:"on"`
	// UIProductName is the name the pages show in their header and titles.
	UIProductName string `env:"USERSVC_UI_PRODUCT_NAME" envDefault:"usersvc"`
	// UILogoURL is an image shown beside the product name: an absolute
	// https URL (http in development) or a path on this service. Its
	// origin is added to the pages' img-src. Empty: none.
	UILogoURL string `env:"USERSVC_UI_LOGO_URL"`
	// UIAccentColor is the colour of buttons and links, #rrggbb, dark
	// enough for white text on it (WCAG AA, 4.5:1).
	UIAccentColor string `env:"USERSVC_UI_ACCENT_COLOR" envDefault:"#1d4ed8"`
	// UIReturnToOrigins are the origins, besides USERSVC_PUBLIC_URL's,
	// that a sign-in may send the browser back to (return_to).
	UIReturnToOrigins []string `env:"USERSVC_UI_RETURN_TO_ORIGINS" envSeparator:","`
}

// MaxProductName is the longest USERSVC_UI_PRODUCT_NAME, in bytes.
const MaxProductName = 64

// MinAccentContrast is the least contrast USERSVC_UI_ACCENT_COLOR must
// have with white text (WCAG 2.2 AA for normal text).
const MinAccentContrast = 4.5

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

func (u *Pages) validate(env string, bad func(name, format string, args ...any)) {
	if n := strings.TrimSpace(u.UIProductName); n == "" || len(n) > MaxProductName {
		bad("USERSVC_UI_PRODUCT_NAME", "must be 1 to %d bytes, got %d", MaxProductName, len(n))
	}
	if u.UILogoURL != "" {
		if _, err := LogoOrigin(u.UILogoURL, env); err != nil {
			bad("USERSVC_UI_LOGO_URL", "%v, got %q", err, u.UILogoURL)
		}
	}
	if !hexColor.MatchString(u.UIAccentColor) {
		bad("USERSVC_UI_ACCENT_COLOR", "must be a colour like #1d4ed8, got %q", u.UIAccentColor)
	} else if c := ContrastWithWhite(u.UIAccentColor); c < MinAccentContrast {
		bad("USERSVC_UI_ACCENT_COLOR", "%s has a contrast of %.1f:1 with white text, below %.1f:1 (WCAG AA): choose a darker colour", u.UIAccentColor, c, MinAccentContrast)
	}
	for i, o := range u.UIReturnToOrigins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if p, err := url.Parse(o); err != nil || (p.Scheme != "https" && (p.Scheme != "http" || env == Production)) ||
			p.Host == "" || p.Path != "" || p.User != nil || p.RawQuery != "" || p.Fragment != "" {
			bad("USERSVC_UI_RETURN_TO_ORIGINS", "%q is not an origin like https://app.example.com (https in production)", o)
		}
		u.UIReturnToOrigins[i] = o
	}
}

// LogoOrigin is the origin ("https://cdn.example.com") the pages must
// allow images from to show logo, "" for a path on this service; an
// error says why logo is not a URL the pages may show.
func LogoOrigin(logo, env string) (string, error) {
	if strings.HasPrefix(logo, "/") && !strings.HasPrefix(logo, "//") && !strings.Contains(logo, `\`) {
		return "", nil
	}
	p, err := url.Parse(logo)
	if err != nil || p.Host == "" || p.User != nil || (p.Scheme != "https" && (p.Scheme != "http" || env == Production)) {
		return "", fmt.Errorf("must be an https URL or a path starting with /")
	}
	return p.Scheme + "://" + p.Host, nil
}

// ContrastWithWhite is the WCAG contrast ratio of white on the colour
// #rrggbb (1 to 21).
func ContrastWithWhite(hex string) float64 {
	lum := 0.0
	for i, weight := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		lum += weight * c
	}
	return 1.05 / (lum + 0.05)
}

// CookieSecure reports whether the pages' cookies are Secure and
// __Host- prefixed: always, except in development served over plain
// http (no USERSVC_PUBLIC_URL, or an http one), where a browser would
// not send such a cookie back.
func (c *Config) CookieSecure() bool {
	return c.Env != Development || strings.HasPrefix(c.PublicURL, "https://")
}

// The pages the mailed links land on (internal/web serves them).
const (
	VerifyEmailPage     = "/verify-email?token={token}"
	ResetPasswordPage   = "/reset-password?token={token}"
	UndoEmailChangePage = "/undo-email-change?token={token}"
)

// defaultLinks fills in the mail links that are not set: the hosted pages
// under USERSVC_PUBLIC_URL when both are there, else the development
// defaults (which production refuses).
func (c *Config) defaultLinks() {
	base := "http://localhost:3000"
	if c.PublicURL != "" && bool(c.UI) {
		base = c.PublicURL
	}
	for _, l := range []struct {
		value *string
		page  string
	}{
		{&c.VerifyEmailURL, VerifyEmailPage},
		{&c.PasswordResetURL, ResetPasswordPage},
		{&c.UndoEmailChangeURL, UndoEmailChangePage},
	} {
		if *l.value == "" {
			*l.value = base + l.page
		}
	}
}
