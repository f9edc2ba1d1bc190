package signingtest_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/signing/signingtest"
)

func TestMemoryServiceKeys(t *testing.T) {
	signingtest.RunServiceKeys(t, func(*testing.T) signing.ServiceKeys { return &signingtest.MemoryServiceKeys{} })
}
