package config

import "time"

// Webhooks is the settings of outbound webhooks (internal/webhook).
// Config embeds it, so its variables sit beside the others.
type Webhooks struct {
	// WebhookAllowPrivate lets deliveries reach loopback, private,
	// link-local and other non-public addresses: for receivers inside
	// the same network, and for tests. Cloud metadata addresses stay
	// refused.
	WebhookAllowPrivate Switch `env:"USERSVC_WEBHOOK_ALLOW_PRIVATE" envDefault:"off"`
	// WebhookRetryFor is how long a delivery is retried, and how long an
	// endpoint may fail without a success before it is disabled.
	WebhookRetryFor time.Duration `env:"USERSVC_WEBHOOK_RETRY_FOR" envDefault:"72h"`
}

// Bounds of USERSVC_WEBHOOK_RETRY_FOR.
const (
	MinWebhookRetryFor = time.Minute
	MaxWebhookRetryFor = 30 * 24 * time.Hour
)

func (w *Webhooks) validate(bad func(name, format string, args ...any)) {
	if w.WebhookRetryFor < MinWebhookRetryFor || w.WebhookRetryFor > MaxWebhookRetryFor {
		bad("USERSVC_WEBHOOK_RETRY_FOR", "must be between %s and %s, got %s", MinWebhookRetryFor, MaxWebhookRetryFor, w.WebhookRetryFor)
	}
}
