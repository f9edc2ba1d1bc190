package sqlite_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/signing/signingtest"
	"github.com/usersvc/usersvc/internal/storetest"
)

func TestServiceKeys(t *testing.T) {
	signingtest.RunServiceKeys(t, func(t *testing.T) signing.ServiceKeys { return storetest.SQLite(t).ServiceKeys() })
}
