package oidcop_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }
