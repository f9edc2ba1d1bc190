package config

import (
	"encoding/base64"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// productionBase is a configuration production accepts once a mailer is
// added, in environment env (Production or Development).
func productionBase(env string) []string {
	return []string{
		"USERSVC_ENV=" + env,
		"USERSVC_KEY_ENCRYPTION_KEY=" + kek,
		"USERSVC_VERIFY_EMAIL_URL=https://app.example.com/verify-email?token={token}",
		"USERSVC_PASSWORD_RESET_URL=https://app.example.com/reset-password?token={token}",
		"USERSVC_UNDO_EMAIL_CHANGE_URL=https://app.example.com/undo-email-change?token={token}",
	}
}

// productionEnv is productionBase with an SMTP mailer over STARTTLS: a
// configuration production accepts without an override. Variables
// appended to it replace its own (the last of a name wins).
func productionEnv(env string) []string {
	return append(productionBase(env),
		"USERSVC_MAILER=smtp", "USERSVC_SMTP_HOST=smtp.example.com", "USERSVC_MAIL_FROM=no-reply@example.com")
}

// A safe production configuration starts without refusals or warnings,
// including settings at the edge of what is refused.
func TestProductionAcceptsSafeSettings(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  []string
	}{
		{"the base", nil},
		{"HS256 with a random base64 secret", []string{"USERSVC_JWT_ALG=HS256", "USERSVC_JWT_SECRET=" + hs256Secret}},
		// 15 of the 16 hex digits, as about 1 in 4 `openssl rand -hex 32` are
		{"HS256 with a random hex secret", []string{"USERSVC_JWT_ALG=HS256", "USERSVC_JWT_SECRET=295c5b5e10034af3e48a2b403f3cc019e77837ca77fcd5c9a15cdfa4a9841028"}},
		{"trusted proxies of exactly /8 and /32", []string{"USERSVC_TRUSTED_PROXIES=10.0.0.0/8,2001:db8::/32"}},
		{"https CORS origins", []string{"USERSVC_CORS_ORIGINS=https://app.example.com,https://admin.example.com:8443"}},
		{"implicit TLS", []string{"USERSVC_SMTP_TLS=implicit"}},
		{"the shortest key publish delay: the JWKS max-age and a key reload", []string{"USERSVC_KEY_PUBLISH_DELAY=5m30s"}},
		{"HS256 publishes no key: any publish delay", []string{"USERSVC_JWT_ALG=HS256", "USERSVC_JWT_SECRET=" + hs256Secret, "USERSVC_KEY_PUBLISH_DELAY=0s"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(append(productionEnv(Production), tt.set...), "")
			if err != nil {
				t.Fatalf("Load error = %v, want none", err)
			}
			if len(c.Warnings) != 0 {
				t.Errorf("Warnings = %q, want none", c.Warnings)
			}
		})
	}
}

// unsafeCase is a setting production refuses: the variable the refusal
// names and the override that allows it.
type unsafeCase struct {
	name     string
	set      []string
	variable string
	override string
	hidden   string // a secret the messages must not show
}

func unsafeCases() []unsafeCase {
	zeroKey := base64.StdEncoding.EncodeToString(make([]byte, 32))
	cases := []unsafeCase{
		{"HS256 secret of one repeated byte", []string{"USERSVC_JWT_ALG=HS256", "USERSVC_JWT_SECRET=" + strings.Repeat("a", 32)},
			"USERSVC_JWT_SECRET", OverrideWeakSecret, strings.Repeat("a", 32)},
		{"HS256 secret of a repeated word", []string{"USERSVC_JWT_ALG=HS256", "USERSVC_JWT_SECRET=" + strings.Repeat("changeme", 4)},
			"USERSVC_JWT_SECRET", OverrideWeakSecret, "changeme"},
		{"HS256 secret of a repeated hex word", []string{"USERSVC_JWT_ALG=HS256", "USERSVC_JWT_SECRET=" + strings.Repeat("deadbeef", 8)},
			"USERSVC_JWT_SECRET", OverrideWeakSecret, "deadbeef"},
		{"all-zero key encryption key", []string{"USERSVC_KEY_ENCRYPTION_KEY=" + zeroKey},
			"USERSVC_KEY_ENCRYPTION_KEY", OverrideWeakSecret, zeroKey},
		{"key encryption key of one repeated byte", []string{"USERSVC_KEY_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))},
			"USERSVC_KEY_ENCRYPTION_KEY", OverrideWeakSecret, "a2tr"},
		{"next key encryption key of one repeated byte", []string{"USERSVC_KEY_ENCRYPTION_KEY_NEXT=" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("n", 32)))},
			"USERSVC_KEY_ENCRYPTION_KEY_NEXT", OverrideWeakSecret, "bm5u"},
		{"rate limits off", []string{"USERSVC_RATE_LIMITS=off"}, "USERSVC_RATE_LIMITS", OverrideRateLimitsOff, ""},
		{"log mailer", []string{"USERSVC_MAILER=log"}, "USERSVC_MAILER", OverrideLogMailer, ""},
		{"SMTP without TLS", []string{"USERSVC_SMTP_TLS=none"}, "USERSVC_SMTP_TLS", OverrideSMTPPlaintext, ""},
		{"every IPv4 address a proxy", []string{"USERSVC_TRUSTED_PROXIES=0.0.0.0/0"}, "USERSVC_TRUSTED_PROXIES", OverrideWideTrustedProxies, ""},
		{"a /7 among the proxies", []string{"USERSVC_TRUSTED_PROXIES=10.0.0.0/16,12.0.0.0/7"}, "USERSVC_TRUSTED_PROXIES", OverrideWideTrustedProxies, ""},
		{"every IPv6 address a proxy", []string{"USERSVC_TRUSTED_PROXIES=::/0"}, "USERSVC_TRUSTED_PROXIES", OverrideWideTrustedProxies, ""},
		{"an IPv6 /31", []string{"USERSVC_TRUSTED_PROXIES=2001:db8::/31"}, "USERSVC_TRUSTED_PROXIES", OverrideWideTrustedProxies, ""},
		{"all of IPv4 written in IPv6", []string{"USERSVC_TRUSTED_PROXIES=::ffff:0.0.0.0/96"}, "USERSVC_TRUSTED_PROXIES", OverrideWideTrustedProxies, ""},
		{"an http CORS origin", []string{"USERSVC_CORS_ORIGINS=https://app.example.com,http://app.example.com"}, "USERSVC_CORS_ORIGINS", OverrideHTTPCORSOrigin, ""},
		{"an http verification link", []string{"USERSVC_VERIFY_EMAIL_URL=http://app.example.com/verify-email?token={token}"}, "USERSVC_VERIFY_EMAIL_URL", OverrideHTTPLinks, ""},
		{"an http reset link", []string{"USERSVC_PASSWORD_RESET_URL=http://app.example.com/reset?token={token}"}, "USERSVC_PASSWORD_RESET_URL", OverrideHTTPLinks, ""},
		{"a localhost link", []string{"USERSVC_VERIFY_EMAIL_URL=https://localhost:3000/verify-email?token={token}"}, "USERSVC_VERIFY_EMAIL_URL", OverrideLocalhostLinks, ""},
		{"a loopback link", []string{"USERSVC_PASSWORD_RESET_URL=https://127.0.0.2/reset?token={token}"}, "USERSVC_PASSWORD_RESET_URL", OverrideLocalhostLinks, ""},
		{"an http public URL", []string{"USERSVC_PUBLIC_URL=http://auth.example.com"}, "USERSVC_PUBLIC_URL", OverrideHTTPPublicURL, ""},
		{"an http issuer beside an https public URL", []string{"USERSVC_PUBLIC_URL=https://auth.example.com", "USERSVC_JWT_ISSUER=http://auth.example.com"}, "USERSVC_JWT_ISSUER", OverrideHTTPPublicURL, ""},
		{"an http issuer without a public URL", []string{"USERSVC_JWT_ISSUER=http://auth.example.com"}, "USERSVC_JWT_ISSUER", OverrideHTTPPublicURL, ""},
		{"an IPv6 loopback link", []string{"USERSVC_PASSWORD_RESET_URL=https://[::1]:8443/reset?token={token}"}, "USERSVC_PASSWORD_RESET_URL", OverrideLocalhostLinks, ""},
		{"webhooks to private addresses", []string{"USERSVC_WEBHOOK_ALLOW_PRIVATE=on"}, "USERSVC_WEBHOOK_ALLOW_PRIVATE", OverrideWebhookPrivate, ""},
		{"a rate limit of 0", []string{"USERSVC_RATE_LIMIT_LOGIN=0"}, "USERSVC_RATE_LIMIT_LOGIN", OverrideRateLimitsOff, ""},
		{"a key published for less than verifiers cache the JWKS", []string{"USERSVC_KEY_PUBLISH_DELAY=5m"}, "USERSVC_KEY_PUBLISH_DELAY", OverrideShortKeyPublishDelay, ""},
		{"a key that signs as soon as it is published", []string{"USERSVC_KEY_PUBLISH_DELAY=0s"}, "USERSVC_KEY_PUBLISH_DELAY", OverrideShortKeyPublishDelay, ""},
		{"a wildcard CORS origin", []string{"USERSVC_CORS_ORIGINS=https://app.example.com,https://*"}, "USERSVC_CORS_ORIGINS", OverrideWildcardCORSOrigin, ""},
		{"a wildcard subdomain CORS origin", []string{"USERSVC_CORS_ORIGINS=https://*.example.com"}, "USERSVC_CORS_ORIGINS", OverrideWildcardCORSOrigin, ""},
	}
	// Each rate limit off on its own, the others on.
	for _, name := range rateVariables {
		cases = append(cases, unsafeCase{name + " off", []string{name + "=off"}, name, OverrideRateLimitsOff, ""})
	}
	return cases
}

// rateVariables are the rate limits, each of which production refuses
// off.
var rateVariables = []string{
	"USERSVC_RATE_LIMIT_LOGIN", "USERSVC_RATE_LIMIT_LOGIN_ACCOUNT", "USERSVC_RATE_LIMIT_REGISTER",
	"USERSVC_RATE_LIMIT_PASSWORD", "USERSVC_RATE_LIMIT_REFRESH", "USERSVC_RATE_LIMIT_OAUTH_FAILURES", "USERSVC_RATE_LIMIT_WRITE",
	"USERSVC_RATE_LIMIT_WRITE_ACCOUNT", "USERSVC_RATE_LIMIT_EMAIL_CHANGE", "USERSVC_RATE_LIMIT_EXPORT",
	"USERSVC_RATE_LIMIT_MAIL", "USERSVC_RATE_LIMIT_MAIL_RECIPIENT",
}

// Each unsafe setting stops production with a message naming the variable,
// the fix and the override; with the override it starts and warns; in
// development it starts.
func TestProductionRefusesUnsafeSettings(t *testing.T) {
	for _, tt := range unsafeCases() {
		t.Run(tt.name, func(t *testing.T) {
			environ := append(productionEnv(Production), tt.set...)
			_, err := Load(environ, "")
			if err == nil {
				t.Fatalf("production with %q started, want a refusal naming %s", tt.set, tt.variable)
			}
			for _, want := range []string{tt.variable + ": ", tt.override, EnvInsecureOverrides} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refusal %q does not name %s", err, want)
				}
			}
			if tt.hidden != "" && strings.Contains(err.Error(), tt.hidden) {
				t.Errorf("refusal %q shows the secret", err)
			}

			c, err := Load(append(environ, EnvInsecureOverrides+"="+tt.override), "")
			if err != nil {
				t.Fatalf("with %s=%s: error %v, want none", EnvInsecureOverrides, tt.override, err)
			}
			if !slices.ContainsFunc(c.Warnings, func(w string) bool {
				return strings.HasPrefix(w, tt.variable+": ") && strings.Contains(w, tt.override)
			}) {
				t.Errorf("with the override, Warnings = %q; want one naming %s and %s", c.Warnings, tt.variable, tt.override)
			}
			for _, w := range c.Warnings {
				if tt.hidden != "" && strings.Contains(w, tt.hidden) {
					t.Errorf("warning %q shows the secret", w)
				}
			}

			if _, err := Load(append(productionEnv(Development), tt.set...), ""); err != nil {
				t.Errorf("development with %q: error %v, want none", tt.set, err)
			}
		})
	}
}

// The development defaults of the mail links (http://localhost:3000) stop
// production with two refusals each.
func TestProductionRefusesTheDefaultLinks(t *testing.T) {
	environ := []string{ // productionEnv without the links
		"USERSVC_ENV=production", "USERSVC_KEY_ENCRYPTION_KEY=" + kek,
		"USERSVC_MAILER=smtp", "USERSVC_SMTP_HOST=smtp.example.com", "USERSVC_MAIL_FROM=no-reply@example.com",
	}
	_, err := Load(environ, "")
	if err == nil {
		t.Fatal("production with the default links started, want a refusal")
	}
	for _, v := range []string{"USERSVC_VERIFY_EMAIL_URL", "USERSVC_PASSWORD_RESET_URL", "USERSVC_UNDO_EMAIL_CHANGE_URL"} {
		for _, o := range []string{OverrideHTTPLinks, OverrideLocalhostLinks} {
			if !slices.ContainsFunc(strings.Split(err.Error(), "\n"), func(line string) bool {
				return strings.HasPrefix(line, v+": ") && strings.Contains(line, o)
			}) {
				t.Errorf("refusal %q has no line naming %s and %s", err, v, o)
			}
		}
	}
	c, err := Load(append(environ, EnvInsecureOverrides+"=http_links,localhost_links"), "")
	if err != nil || len(c.Warnings) != 6 {
		t.Errorf("with both overrides: Warnings %q, error %v; want 6 warnings (2 for each link), no error", c.Warnings, err)
	}
}

func TestInsecureOverridesNames(t *testing.T) {
	for _, env := range []string{Production, Development} {
		_, err := Load(append(productionEnv(env), EnvInsecureOverrides+"=weak_secrets"), "")
		if err == nil || !strings.Contains(err.Error(), EnvInsecureOverrides) || !strings.Contains(err.Error(), "did you mean weak_secret?") {
			t.Errorf("%s with an unknown override: error %v, want one naming %s and suggesting weak_secret", env, err, EnvInsecureOverrides)
		}
	}
	c, err := Load(append(productionEnv(Production), EnvInsecureOverrides+"=rate_limits_off"), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "rate_limits_off is listed but no setting needs it") {
		t.Errorf("an override nothing needs: Warnings = %q, want one saying so", c.Warnings)
	}
}

// TestEveryOverrideHasACase: each name USERSVC_INSECURE_OVERRIDES accepts
// is exercised by a refusal above.
func TestEveryOverrideHasACase(t *testing.T) {
	for _, o := range Overrides() {
		if !slices.ContainsFunc(unsafeCases(), func(c unsafeCase) bool { return c.override == o }) {
			t.Errorf("override %s has no case in unsafeCases", o)
		}
	}
}

// TestEveryRateLimitIsRefusedOff: rateVariables, whose cases above are
// refused off, are every rate variable Config reads.
func TestEveryRateLimitIsRefusedOff(t *testing.T) {
	var rates []string
	for _, v := range variables() {
		if reflect.TypeFor[Config]().FieldByIndex(v.index).Type == reflect.TypeFor[Rate]() {
			rates = append(rates, v.name)
		}
	}
	if !slices.Equal(rates, rateVariables) {
		t.Errorf("rate variables = %q; rateVariables lists %q", rates, rateVariables)
	}
}

// A bare * is no origin: refused in every environment, production
// included, before the wildcard rule.
func TestCORSStarIsRefused(t *testing.T) {
	for _, env := range []string{Production, Development} {
		_, err := Load(append(productionEnv(env), "USERSVC_CORS_ORIGINS=*"), "")
		if err == nil || !strings.Contains(err.Error(), `USERSVC_CORS_ORIGINS: "*" is not an origin`) {
			t.Errorf("%s with USERSVC_CORS_ORIGINS=*: error %v, want a refusal naming the variable", env, err)
		}
	}
}
