package sqlite

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/user"
)

func TestSigningKeysErrors(t *testing.T) {
	s := openMigrated(t)
	keys := s.SigningKeys()
	k := signing.StoredKey{ID: "k1", Alg: security.EdDSA, Public: []byte{1}, Private: []byte{2}, CreatedAt: time.Now()}
	if err := keys.AddKey(t.Context(), k); err != nil {
		t.Fatalf("AddKey: %v", err)
	}
	if err := keys.AddKey(t.Context(), k); err == nil || !strings.Contains(err.Error(), "add signing key") {
		t.Errorf("AddKey(same kid) error = %v, want one naming the operation", err)
	}
	if _, err := s.write.ExecContext(t.Context(), `UPDATE signing_keys SET created_at = 'yesterday'`); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Keys(t.Context()); err == nil || !strings.Contains(err.Error(), "created_at") {
		t.Errorf("Keys() with a bad created_at: error = %v, want one naming the column", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Keys(t.Context()); err == nil || errors.Is(err, user.ErrNotFound) {
		t.Errorf("Keys() on a closed store: error = %v, want a wrapped failure", err)
	}
}
