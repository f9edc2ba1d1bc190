package oidcoptest

import (
	"testing"

	"github.com/usersvc/usersvc/internal/oidcop"
)

func TestMemory(t *testing.T) {
	Run(t, func(*testing.T) oidcop.Stores { return NewMemory().Stores() })
}
