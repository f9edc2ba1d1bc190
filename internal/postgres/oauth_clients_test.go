package postgres_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/oauthclient/oauthclienttest"
	"github.com/usersvc/usersvc/internal/storetest"
)

func TestOAuthClients(t *testing.T) {
	oauthclienttest.Run(t, func(t *testing.T) oauthclient.Store { return storetest.Postgres(t).OAuthClients() })
}
