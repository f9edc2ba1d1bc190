package security_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/security"
)

// FuzzHS256Verify feeds Verify arbitrary tokens: it must never panic, and
// it may accept only what carries this key's signature, which the fuzzer
// cannot make, so an accepted token names exactly the subject and version
// of the one token issued here.
func FuzzHS256Verify(f *testing.F) {
	now := time.Now()
	tokens, err := security.NewHS256([]byte(strings.Repeat("k", 32)), "usersvc", time.Hour, func() time.Time { return now })
	if err != nil {
		f.Fatal(err)
	}
	id := uuid.MustParse("01a2093a-c05a-710c-b9d0-fd49dba49c6a")
	good, _, err := tokens.Issue(security.Claims{UserID: id, Version: 7})
	if err != nil {
		f.Fatal(err)
	}
	head, rest, _ := strings.Cut(good, ".")
	claims, sig, _ := strings.Cut(rest, ".")
	for _, s := range []string{
		good, good + "x", head + "." + claims + ".", head + "." + claims, "a.b.c", "", ".", "..", "...",
		"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + claims + ".",                                   // alg none
		"eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9." + claims + "." + sig,                            // alg swapped
		"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + claims + "." + sig,                            // RS256 confusion
		head + ".eyJzdWIiOiIwMWEyMDkzYS1jMDVhLTcxMGMtYjlkMC1mZDQ5ZGJhNDljNmEiLCJ2IjoxfQ." + sig, // claims swapped
		strings.Repeat("A", 10000), "\x00", "\xff.\xff.\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := tokens.Verify(token)
		gotID, gotVersion := claims.UserID, claims.Version
		if err != nil {
			return
		}
		if gotID != id || gotVersion != 7 {
			t.Fatalf("Verify(%q) accepted subject %v version %d, which were never issued", token, gotID, gotVersion)
		}
	})
}
