package breached_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/breached"
)

func TestListHoldsTheMostCommonPasswords(t *testing.T) {
	if n := breached.Len(); n < 10_000 {
		t.Fatalf("list has %d passwords, want at least 10,000", n)
	}
	for _, pw := range []string{"password", "PASSWORD", "12345678", "qwertyuiop", "iloveyou", "Password1", "trustno1"} {
		if !breached.Contains(pw) {
			t.Errorf("Contains(%q) = false, want true", pw)
		}
	}
	for _, pw := range []string{"correct horse battery", "vY3#kq!Lm2@pZ9", ""} {
		if breached.Contains(pw) {
			t.Errorf("Contains(%q) = true, want false", pw)
		}
	}
}
