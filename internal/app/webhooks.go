package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/webhook"
)

// WebhookPollEvery is how often a serving replica looks for webhook
// deliveries due for a retry. Deliveries are first attempted when their
// event is handed over; this only paces retries (and deliveries whose
// first attempt a crash interrupted).
const WebhookPollEvery = 5 * time.Second

// webhookStore is a Store that keeps webhooks: both databases do; a test
// fake may not, and then the service has no webhooks.
type webhookStore interface {
	Webhooks() webhook.Stores
}

// WebhookService is the webhook.Service over db's database, as cfg sets
// it up; nil when db keeps no webhooks. Its secrets are sealed with the
// key-encryption key (in development the one kept in the data directory,
// made when the first secret is);
// in production without USERSVC_KEY_ENCRYPTION_KEY (HS256 tokens) it can
// list and deliver nothing new: creating an endpoint or rotating a secret
// answers webhook.ErrUnavailable.
func WebhookService(cfg config.Config, db Store, log *slog.Logger, now func() time.Time) (*webhook.Service, error) {
	return webhookService(cfg, db, log, now, webhook.Guard{})
}

// webhookService is WebhookService with guard (a test's) in front of every
// connection.
func webhookService(cfg config.Config, db Store, log *slog.Logger, now func() time.Time, guard webhook.Guard) (*webhook.Service, error) {
	ws, ok := db.(webhookStore)
	if !ok || ws.Webhooks().Endpoints == nil {
		return nil, nil
	}
	deps := webhook.Deps{
		Stores: ws.Webhooks(), Audit: db.Stores().Audit, Accounts: db.Stores().Users, Log: log, Now: now,
		Sender: webhook.NewClient(webhook.ClientOptions{
			AllowPrivate: bool(cfg.WebhookAllowPrivate), RequireHTTPS: cfg.Env == config.Production,
			Resolver: guard.Resolver, BeforeConnect: guard.BeforeConnect,
		}),
	}
	if cfg.KeyEncryptionKey != "" || cfg.Env != config.Production {
		// On first need: with HS256 tokens and no webhook, development
		// never generates a key-encryption key.
		deps.OpenSealer = func() (webhook.Sealer, error) {
			return keySealer(cfg, log)
		}
	} else {
		log.Warn("webhooks need USERSVC_KEY_ENCRYPTION_KEY to keep their secrets: creating endpoints is refused until it is set")
	}
	return webhook.NewService(deps, webhook.Config{
		RetryFor: cfg.WebhookRetryFor, RequireHTTPS: cfg.Env == config.Production, AllowPrivate: bool(cfg.WebhookAllowPrivate),
	}), nil
}

// openWebhooks sets up the webhook service and, until bg ends, the retry
// of due deliveries.
func (a *App) openWebhooks(bg context.Context, now func() time.Time, guard webhook.Guard) error {
	svc, err := webhookService(a.cfg, a.db, a.log, now, guard)
	if err != nil || svc == nil {
		return err
	}
	a.webhooks = svc
	// The job queue's sink: first attempts in the background, under bg
	// (Close ends them, and waits for them once the queue has stopped).
	a.hookSink = svc.Dispatcher(bg)
	a.onClose(a.hookSink.Wait)
	ticker := time.NewTicker(WebhookPollEvery)
	a.onClose(ticker.Stop)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		svc.Run(bg, ticker.C, func(err error) { a.log.Warn("webhook deliveries", "error", err.Error()) })
	}()
	a.onClose(func() { <-polled }) // its attempts under way end with bg: Close waits for them
	return nil
}

// Webhooks is the webhook service, nil when the store keeps none.
func (a *App) Webhooks() *webhook.Service { return a.webhooks }
