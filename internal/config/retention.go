package config

import "time"

// Retention bounds what the database keeps: how long ended sessions and
// audit events stay, and how many live sessions one account has. Config
// embeds it, so its variables sit beside the others.
type Retention struct {
	// SessionRetention is how long a session (with its refresh tokens)
	// is kept after it expired or was revoked; zero keeps every one, as
	// zero does for the audit events and the webhook deliveries.
	SessionRetention time.Duration `env:"USERSVC_SESSION_RETENTION" envDefault:"720h"`
	// AuditRetention is how long an audit event is kept; zero keeps every
	// event.
	AuditRetention time.Duration `env:"USERSVC_AUDIT_RETENTION" envDefault:"9600h"`
	// WebhookDeliveryRetention is how long a finished webhook delivery
	// (succeeded or failed, with its attempts) is kept after its last
	// change; zero keeps every one. Pending deliveries always stay.
	WebhookDeliveryRetention time.Duration `env:"USERSVC_WEBHOOK_DELIVERY_RETENTION" envDefault:"720h"`
	// RetentionInterval is how often a replica removes what the retention
	// settings let go (one replica at a time).
	RetentionInterval time.Duration `env:"USERSVC_RETENTION_INTERVAL" envDefault:"1h"`
	// MaxSessionsPerUser is the most live sessions of one account: a new
	// login ends the oldest beyond it.
	MaxSessionsPerUser int `env:"USERSVC_MAX_SESSIONS_PER_USER" envDefault:"100"`
}

func (r *Retention) validate(bad func(name, format string, args ...any)) {
	if r.SessionRetention != 0 && (r.SessionRetention < time.Minute || r.SessionRetention > 10*365*24*time.Hour) {
		bad("USERSVC_SESSION_RETENTION", "must be 0 (keep every session) or between 1m and 87600h, got %s", r.SessionRetention)
	}
	if r.AuditRetention != 0 && (r.AuditRetention < 24*time.Hour || r.AuditRetention > 100*365*24*time.Hour) {
		bad("USERSVC_AUDIT_RETENTION", "must be 0 (keep every event) or between 24h and 876000h, got %s", r.AuditRetention)
	}
	if r.WebhookDeliveryRetention != 0 && (r.WebhookDeliveryRetention < 24*time.Hour || r.WebhookDeliveryRetention > 10*365*24*time.Hour) {
		bad("USERSVC_WEBHOOK_DELIVERY_RETENTION", "must be 0 (keep every delivery) or between 24h and 87600h, got %s", r.WebhookDeliveryRetention)
	}
	if r.RetentionInterval < time.Minute || r.RetentionInterval > 7*24*time.Hour {
		bad("USERSVC_RETENTION_INTERVAL", "must be between 1m and 168h, got %s", r.RetentionInterval)
	}
	if r.MaxSessionsPerUser < 1 || r.MaxSessionsPerUser > 10000 {
		bad("USERSVC_MAX_SESSIONS_PER_USER", "must be between 1 and 10000, got %d", r.MaxSessionsPerUser)
	}
}
