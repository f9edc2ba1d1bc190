package browsertest_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/storetest"
)

// TestMain drops the PostgreSQL template database at exit.
func TestMain(m *testing.M) { storetest.Main(m) }
