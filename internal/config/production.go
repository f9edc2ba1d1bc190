package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"

	accountmail "github.com/usersvc/usersvc/internal/mail"
	"github.com/usersvc/usersvc/internal/security"
)

// The names USERSVC_INSECURE_OVERRIDES accepts, one per setting that
// production refuses. They are stable: deployments write them down.
const (
	OverrideWeakSecret           = "weak_secret"
	OverrideRateLimitsOff        = "rate_limits_off"
	OverrideLogMailer            = "log_mailer"
	OverrideSMTPPlaintext        = "smtp_plaintext"
	OverrideWideTrustedProxies   = "wide_trusted_proxies"
	OverrideHTTPCORSOrigin       = "http_cors_origin"
	OverrideHTTPLinks            = "http_links"
	OverrideLocalhostLinks       = "localhost_links"
	OverrideHTTPPublicURL        = "http_public_url"
	OverrideWebhookPrivate       = "webhook_private"
	OverrideShortKeyPublishDelay = "short_key_publish_delay"
	OverrideWildcardCORSOrigin   = "wildcard_cors_origin"
)

// Overrides lists every name USERSVC_INSECURE_OVERRIDES accepts.
func Overrides() []string {
	return []string{
		OverrideWeakSecret, OverrideRateLimitsOff, OverrideLogMailer, OverrideSMTPPlaintext,
		OverrideWideTrustedProxies, OverrideHTTPCORSOrigin, OverrideHTTPLinks, OverrideLocalhostLinks,
		OverrideHTTPPublicURL,
		OverrideWebhookPrivate, OverrideShortKeyPublishDelay, OverrideWildcardCORSOrigin,
	}
}

// EnvInsecureOverrides is the variable that lets named unsafe settings
// through in production.
const EnvInsecureOverrides = "USERSVC_INSECURE_OVERRIDES"

// MinDistinctSecretBytes is the fewest distinct byte values a secret or key
// must hold in production: 32 random bytes hold about 30, base64 or
// alphanumeric text of 32 random characters about 25, while "aaaa...",
// "changeme" repeated or an all-zero key hold a handful.
const MinDistinctSecretBytes = 16

// MinDistinctHexDigits replaces MinDistinctSecretBytes for a secret written
// only in hex digits (openssl rand -hex 32), whose alphabet has just 16:
// random hex of 32 digits or more shows fewer than 10 of them about once in
// 10,000 draws.
const MinDistinctHexDigits = 10

// Widest trusted proxy ranges production accepts.
const (
	MaxTrustedProxyBitsV4 = 8  // a /8
	MaxTrustedProxyBitsV6 = 32 // a /32
)

// unsafeSetting is a setting production refuses unless its override is
// listed: what is wrong and how to fix it, never a secret's value.
type unsafeSetting struct {
	override, variable, problem, fix string
}

// unsafeSettings lists what production refuses in c.
func (c *Config) unsafeSettings() []unsafeSetting {
	var found []unsafeSetting
	add := func(override, variable, problem, fix string) {
		found = append(found, unsafeSetting{override, variable, problem, fix})
	}
	if c.JWTSecret != "" {
		if problem := weakSecret([]byte(c.JWTSecret), true); problem != "" {
			add(OverrideWeakSecret, "USERSVC_JWT_SECRET", problem, "make a random one: openssl rand -base64 48")
		}
	}
	if key, err := c.KeyEncryptionKeyBytes(); err == nil && key != nil {
		if problem := weakSecret(key, false); problem != "" {
			add(OverrideWeakSecret, "USERSVC_KEY_ENCRYPTION_KEY", problem, "make a random one: openssl rand -base64 32, with the old one as USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS until `usersvc keys reseal` has run (README: Rotating the key-encryption key)")
		}
	}
	// The next key is refused at the first roll, not only at the second,
	// when it becomes USERSVC_KEY_ENCRYPTION_KEY with every replica
	// already opening what it would seal.
	if key, err := c.KeyEncryptionKeyNextBytes(); err == nil && key != nil {
		if problem := weakSecret(key, false); problem != "" {
			add(OverrideWeakSecret, "USERSVC_KEY_ENCRYPTION_KEY_NEXT", problem, "make a random one: openssl rand -base64 32")
		}
	}
	c.limitSettings(add)
	c.Tokens.unsafeSettings(add)
	if u, err := url.Parse(c.PublicURL); err == nil && u.Scheme == "http" {
		add(OverrideHTTPPublicURL, "USERSVC_PUBLIC_URL",
			fmt.Sprintf("%q is not https: the issuer and the key and token URLs it publishes could be altered on the way to every verifier", c.PublicURL),
			"set the https:// address clients reach the service at")
	}
	if u, err := url.Parse(c.JWTIssuer); err == nil && u.Scheme == "http" && c.JWTIssuer != c.PublicURL {
		add(OverrideHTTPPublicURL, "USERSVC_JWT_ISSUER",
			fmt.Sprintf("%q is not https: a verifier that finds the keys from the issuer would fetch them in clear, and the OpenID provider would serve itself over http", c.JWTIssuer),
			"remove it (the issuer is then USERSVC_PUBLIC_URL), or set an https:// issuer")
	}
	c.Mail.unsafeSettings(add)
	if c.WebhookAllowPrivate {
		add(OverrideWebhookPrivate, "USERSVC_WEBHOOK_ALLOW_PRIVATE",
			"is on: an administrator can make the service send requests into its own network (server-side request forgery)",
			"remove it, and give receivers public https addresses")
	}
	for _, p := range c.TrustedProxies {
		if wide(p) {
			add(OverrideWideTrustedProxies, "USERSVC_TRUSTED_PROXIES",
				fmt.Sprintf("%s is wider than a /%d (IPv4) or /%d (IPv6): any client in it could write its own X-Forwarded-For and pick its rate-limit bucket", p, MaxTrustedProxyBitsV4, MaxTrustedProxyBitsV6),
				"list only your load balancers' subnets, e.g. 10.0.0.0/16")
		}
	}
	c.corsSettings(add)
	return found
}

// limitSettings adds the rate limits switched off: all of them, or any
// one (each found by its type among the variables, in Config's order).
func (c *Config) limitSettings(add func(override, variable, problem, fix string)) {
	if !c.RateLimits {
		add(OverrideRateLimitsOff, "USERSVC_RATE_LIMITS", "is off, which also switches the login and client lockouts off", "remove it or set it to on")
	}
	for _, v := range variables() {
		if r, ok := reflect.ValueOf(*c).FieldByIndex(v.index).Interface().(Rate); ok && r.Limit == 0 {
			def := reflect.TypeFor[Config]().FieldByIndex(v.index).Tag.Get("envDefault")
			add(OverrideRateLimitsOff, v.name, "is off: nothing bounds the requests it counts, so guessing, flooding or mail bombing through them goes unchecked",
				fmt.Sprintf("remove it (the default is %s) or set a rate like %s", def, def))
		}
	}
}

// unsafeSettings adds a staged key published for less than verifiers may
// cache the JWKS (with HS256 no key is published).
func (t *Tokens) unsafeSettings(add func(override, variable, problem, fix string)) {
	if t.JWTAlg != security.HS256 && t.KeyPublishDelay < security.MinKeyPublishDelay {
		add(OverrideShortKeyPublishDelay, "USERSVC_KEY_PUBLISH_DELAY",
			fmt.Sprintf("%s is shorter than the %s verifiers may cache the JWKS (its max-age) plus the %s replicas take to reread the keys: a rotated key would sign tokens before relying parties have fetched it, and they would refuse them",
				t.KeyPublishDelay, security.JWKSMaxAge, security.KeyReloadEvery),
			fmt.Sprintf("remove it (the default is 20m) or set at least %s; for a leaked key, `usersvc keys rotate --now` skips the delay", security.MinKeyPublishDelay))
	}
}

// corsSettings adds the CORS origins that are not https, or whose host
// is a wildcard.
func (c *Config) corsSettings(add func(override, variable, problem, fix string)) {
	for _, o := range c.CORSOrigins {
		u, err := url.Parse(o)
		if err != nil {
			continue // validate has refused it already
		}
		if u.Scheme == "http" {
			add(OverrideHTTPCORSOrigin, "USERSVC_CORS_ORIGINS",
				fmt.Sprintf("%s is not https: a page served in clear text can be altered to call the API with its users' credentials", o),
				"list https:// origins only")
		}
		if strings.Contains(u.Host, "*") {
			add(OverrideWildcardCORSOrigin, "USERSVC_CORS_ORIGINS",
				fmt.Sprintf("%s has a wildcard host: every site it matches, a forgotten or taken-over one included, could call the API from its users' browsers with their tokens", o),
				"list each origin in full, e.g. https://app.example.com")
		}
	}
}

func (m *Mail) unsafeSettings(add func(override, variable, problem, fix string)) {
	switch {
	case m.Mailer == MailerLog:
		add(OverrideLogMailer, "USERSVC_MAILER", "is log: no mail is sent, and every verification and reset token is written to the log",
			"set USERSVC_MAILER=smtp with USERSVC_SMTP_HOST and USERSVC_MAIL_FROM")
	case m.Mailer == MailerSMTP && m.SMTPTLS == SMTPNoTLS:
		add(OverrideSMTPPlaintext, "USERSVC_SMTP_TLS", "is none: account mail, its tokens included, crosses the network in clear",
			"set USERSVC_SMTP_TLS=starttls (or implicit for port 465)")
	}
	for _, link := range []struct{ name, tmpl, page string }{
		{"USERSVC_VERIFY_EMAIL_URL", m.VerifyEmailURL, "verify-email"},
		{"USERSVC_PASSWORD_RESET_URL", m.PasswordResetURL, "reset-password"},
		{"USERSVC_UNDO_EMAIL_CHANGE_URL", m.UndoEmailChangeURL, "undo-email-change"},
	} {
		u, err := url.Parse(accountmail.Link(link.tmpl, "x"))
		if err != nil {
			continue // validate has refused it already
		}
		fix := "set it to your app's https page, e.g. https://app.example.com/" + link.page + "?token={token}"
		if u.Scheme == "http" {
			add(OverrideHTTPLinks, link.name, fmt.Sprintf("%q is not https: the token in the link would cross the network in clear", link.tmpl), fix)
		}
		if local(u.Hostname()) {
			add(OverrideLocalhostLinks, link.name, fmt.Sprintf("%q points at this machine (the development default): recipients cannot open it", link.tmpl), fix)
		}
	}
}

// weakSecret says what is wrong with a secret of low entropy, or "". A
// secret of hex digits only is held to MinDistinctHexDigits; hexText says
// whether the secret is text that may be hex (a decoded key is raw bytes).
func weakSecret(b []byte, hexText bool) string {
	if !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) {
		return "is all zero bytes"
	}
	seen := map[byte]bool{}
	hex := hexText
	for _, c := range b {
		seen[c] = true
		hex = hex && strings.IndexByte("0123456789abcdefABCDEF", c) >= 0
	}
	least := MinDistinctSecretBytes
	if hex {
		least = MinDistinctHexDigits
	}
	if len(seen) < least {
		return fmt.Sprintf("has %d distinct byte values, fewer than %d: it is not random", len(seen), least)
	}
	return ""
}

// wide reports whether p is wider than production accepts; an IPv4 range
// written in IPv6 (::ffff:0:0/96) counts as IPv4.
func wide(p netip.Prefix) bool {
	bits := p.Bits()
	switch {
	case p.Addr().Is4():
		return bits < MaxTrustedProxyBitsV4
	case p.Addr().Is4In6() && bits >= 96:
		return bits-96 < MaxTrustedProxyBitsV4
	default:
		return bits < MaxTrustedProxyBitsV6
	}
}

// local reports whether host names this machine: localhost (and
// *.localhost), a loopback or an unspecified address.
func local(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && (a.IsLoopback() || a.IsUnspecified() || a.Unmap().IsLoopback())
}

// applyOverrides turns each unsafe setting into an error, or into a warning
// when USERSVC_INSECURE_OVERRIDES lists its name; a listed name that
// nothing needs is a warning too. An unknown name is an error in any
// environment.
func (c *Config) applyOverrides(unsafe []unsafeSetting) (errs []error, warnings []string) {
	listed := map[string]bool{}
	for _, name := range c.InsecureOverrides {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
		case slices.Contains(Overrides(), name):
			listed[name] = true
		default:
			errs = append(errs, fmt.Errorf("%s: unknown override %q%s; known: %s", EnvInsecureOverrides, name, suggest(name, Overrides()), strings.Join(Overrides(), ", ")))
		}
	}
	used := map[string]bool{}
	for _, u := range unsafe {
		if listed[u.override] {
			used[u.override] = true
			warnings = append(warnings, fmt.Sprintf("%s: %s; allowed in production by %s=%s", u.variable, u.problem, EnvInsecureOverrides, u.override))
			continue
		}
		errs = append(errs, fmt.Errorf("%s: %s; %s (or, to run anyway, add %s to %s)", u.variable, u.problem, u.fix, u.override, EnvInsecureOverrides))
	}
	for _, name := range Overrides() {
		if listed[name] && !used[name] && c.Env == Production {
			warnings = append(warnings, fmt.Sprintf("%s: %s is listed but no setting needs it; remove it", EnvInsecureOverrides, name))
		}
	}
	return errs, warnings
}
