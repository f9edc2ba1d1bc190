package sqlite_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/oidcop/oidcoptest"
	"github.com/usersvc/usersvc/internal/storetest"
)

func TestOIDC(t *testing.T) {
	oidcoptest.Run(t, func(t *testing.T) oidcop.Stores { return storetest.SQLite(t).OIDC() })
}
