package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/signing/signingtest"
	"github.com/usersvc/usersvc/internal/storetest"
)

// TestSigningKeys: keys read back as stored, oldest first whatever the
// order they were added in, and a second key of one kid is refused.
func TestSigningKeys(t *testing.T) {
	keys := storetest.Postgres(t).SigningKeys()
	at := time.Now().UTC().Truncate(time.Microsecond)
	newer := signing.StoredKey{ID: "a-newer", Alg: security.ES256, Public: []byte{1, 2}, Private: []byte{3, 4}, CreatedAt: at}
	older := signing.StoredKey{ID: "b-older", Alg: security.EdDSA, Public: []byte{5}, Private: []byte{6}, CreatedAt: at.Add(-time.Hour)}
	for _, k := range []signing.StoredKey{newer, older} {
		if err := keys.AddKey(t.Context(), k); err != nil {
			t.Fatalf("AddKey(%s): %v", k.ID, err)
		}
	}
	got, err := keys.Keys(t.Context())
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	if diff := cmp.Diff([]signing.StoredKey{older, newer}, got,
		cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("Keys: want both, oldest first (-want +got):\n%s", diff)
	}
	dup := newer
	dup.Public = []byte{9}
	if err := keys.AddKey(t.Context(), dup); err == nil || !strings.Contains(err.Error(), "add signing key") {
		t.Errorf("AddKey of a used kid: got error %v, want one naming the operation", err)
	}
}

func TestServiceKeys(t *testing.T) {
	signingtest.RunServiceKeys(t, func(t *testing.T) signing.ServiceKeys { return storetest.Postgres(t).ServiceKeys() })
}
