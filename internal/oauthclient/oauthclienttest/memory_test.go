package oauthclienttest

import (
	"testing"

	"github.com/usersvc/usersvc/internal/oauthclient"
)

func TestMemory(t *testing.T) {
	Run(t, func(*testing.T) oauthclient.Store { return NewMemory() })
}
