package config

import "time"

// Lifecycle is the settings of email verification and password reset: how
// long the mailed links live, whether logging in needs a verified email,
// and the rate limits of the routes that send mail. Config embeds it, so
// its variables sit beside the others.
type Lifecycle struct {
	// EmailVerificationTTL is how long a verification link stays usable.
	EmailVerificationTTL time.Duration `env:"USERSVC_EMAIL_VERIFICATION_TTL" envDefault:"24h"`
	// PasswordResetTTL is how long a password reset link stays usable.
	PasswordResetTTL time.Duration `env:"USERSVC_PASSWORD_RESET_TTL" envDefault:"1h"`
	// RequireVerifiedEmail refuses logins (403) and refreshes of accounts
	// whose email is not verified.
	RequireVerifiedEmail Switch `env:"USERSVC_REQUIRE_VERIFIED_EMAIL" envDefault:"off"`
	// RateLimitMail is per client address on POST /verify-email/resend and
	// POST /password-reset.
	RateLimitMail Rate `env:"USERSVC_RATE_LIMIT_MAIL" envDefault:"10/1h"`
	// RateLimitMailRecipient is per account (resend) or email (reset), from
	// any address: it bounds the mail one inbox can be sent.
	RateLimitMailRecipient Rate `env:"USERSVC_RATE_LIMIT_MAIL_RECIPIENT" envDefault:"3/1h"`
}

func (l *Lifecycle) validate(bad func(name, format string, args ...any)) {
	if l.EmailVerificationTTL < 5*time.Minute || l.EmailVerificationTTL > 7*24*time.Hour {
		bad("USERSVC_EMAIL_VERIFICATION_TTL", "must be between 5m and 168h, got %s", l.EmailVerificationTTL)
	}
	if l.PasswordResetTTL < 5*time.Minute || l.PasswordResetTTL > 24*time.Hour {
		bad("USERSVC_PASSWORD_RESET_TTL", "must be between 5m and 24h, got %s", l.PasswordResetTTL)
	}
}
