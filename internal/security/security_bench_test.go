package security_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/security"
)

// Benchmarks of the per-request security work: verifying the bearer token
// of every authenticated request, issuing one per login, and bcrypt at the
// costs that matter (10, the load test's; 12, the default).

func benchTokens(b *testing.B) *security.JWT {
	b.Helper()
	tok, err := security.NewHS256([]byte(strings.Repeat("b", 64)), "usersvc", 30*time.Minute, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

func BenchmarkTokenVerify(b *testing.B) {
	tokens := benchTokens(b)
	s, _, err := tokens.Issue(security.Claims{UserID: uuid.Must(uuid.NewV7()), Version: 3})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokens.Verify(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenVerifyFirst is a token's first verification (the memory of
// verified tokens off): signature and every claim. BenchmarkTokenVerify is
// every later one, found in memory.
func BenchmarkTokenVerifyFirst(b *testing.B) {
	tokens, err := security.NewHS256([]byte(strings.Repeat("b", 64)), "usersvc", 30*time.Minute, time.Now,
		security.WithVerifiedTokens(0))
	if err != nil {
		b.Fatal(err)
	}
	s, _, err := tokens.Issue(security.Claims{UserID: uuid.Must(uuid.NewV7()), Version: 3})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokens.Verify(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenIssue(b *testing.B) {
	tokens := benchTokens(b)
	id := uuid.Must(uuid.NewV7())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tokens.Issue(security.Claims{UserID: id, Version: 3}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBcrypt(b *testing.B) {
	for _, cost := range []int{10, 12} {
		h, err := security.NewBcrypt(cost)
		if err != nil {
			b.Fatal(err)
		}
		hash, err := h.Hash("bench-password")
		if err != nil {
			b.Fatal(err)
		}
		b.Run("hash/cost="+strconv.Itoa(cost), func(b *testing.B) {
			for b.Loop() {
				if _, err := h.Hash("bench-password"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("verify/cost="+strconv.Itoa(cost), func(b *testing.B) {
			for b.Loop() {
				if !h.Verify(hash, "bench-password") {
					b.Fatal("Verify(right password) = false")
				}
			}
		})
	}
}
