package config

import (
	"net/url"
	"regexp"
	"time"
)

// Events is how the durable job queue works (account mail, events) and
// where events go besides webhooks. Config embeds it.
type Events struct {
	// EventsNATSURL, when set, publishes every event to NATS JetStream
	// (nats://host:port, credentials allowed in the URL).
	EventsNATSURL string `env:"USERSVC_EVENTS_NATS_URL" secret:"url"`
	// EventsNATSStream is the JetStream stream the events go to, created
	// (over the subjects usersvc.events.>) when missing.
	EventsNATSStream string `env:"USERSVC_EVENTS_NATS_STREAM" envDefault:"USERSVC_EVENTS"`
	// JobsPollInterval is how often each queue looks for new jobs when
	// nothing tells it of one (SQLite is polled only).
	JobsPollInterval time.Duration `env:"USERSVC_JOBS_POLL_INTERVAL" envDefault:"1s"`
}

// streamName is what JetStream accepts as a stream name.
var streamName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (e *Events) validate(bad func(name, format string, args ...any)) {
	if e.EventsNATSURL != "" {
		u, err := url.Parse(e.EventsNATSURL)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			bad("USERSVC_EVENTS_NATS_URL", "must be a nats:// or tls:// URL with a host, got %q", Redact(e.EventsNATSURL))
		}
	}
	if !streamName.MatchString(e.EventsNATSStream) {
		bad("USERSVC_EVENTS_NATS_STREAM", "must be 1 to 64 letters, digits, _ or -, got %q", e.EventsNATSStream)
	}
	if e.JobsPollInterval < 10*time.Millisecond || e.JobsPollInterval > time.Minute {
		bad("USERSVC_JOBS_POLL_INTERVAL", "must be between 10ms and 1m, got %s", e.JobsPollInterval)
	}
}
