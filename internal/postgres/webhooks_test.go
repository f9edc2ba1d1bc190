package postgres_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/webhook"
	"github.com/usersvc/usersvc/internal/webhook/webhooktest"
)

func TestWebhooks(t *testing.T) {
	webhooktest.Run(t, func(t *testing.T) webhook.Stores {
		return storetest.Postgres(t).Webhooks()
	})
}
