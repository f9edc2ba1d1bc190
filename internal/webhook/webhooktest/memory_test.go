package webhooktest

import (
	"testing"

	"github.com/usersvc/usersvc/internal/webhook"
)

func TestMemory(t *testing.T) {
	Run(t, func(*testing.T) webhook.Stores { return NewMemory().Stores() })
}
