package app

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/storetest"
)

// TestFirstServiceKeyIsTheOneEarlierReleasesDerived: on a database of an
// earlier release (its signing keys sealed under its key-encryption key,
// no service key stored), the first start stores the key that release
// derived from its key-encryption key, so that recovery codes, device
// and refresh tokens keyed by it keep working. That is the key the
// signing keys open with, whichever setting holds it when the rotation
// has begun: previous (the second roll), or current beside the new key
// (the first roll; the new key as next, or as previous, which it was
// documented as before: a key that sealed nothing yet). Later starts
// read it.
func TestFirstServiceKeyIsTheOneEarlierReleasesDerived(t *testing.T) {
	old, fresh := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	enc := base64.StdEncoding.EncodeToString
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range []struct {
		name                string
		current, prev, next []byte
	}{
		{"same key", old, nil, nil},
		{"second roll at the first start", fresh, old, nil},
		{"first roll at the first start", old, nil, fresh},
		{"first roll at the first start, the new key as previous", old, fresh, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := storetest.SQLite(t)
			earlier, err := signing.NewSealer(old, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := signing.Open(t.Context(), db.SigningKeys(), earlier, signing.Options{Alg: security.EdDSA, Overlap: time.Hour}); err != nil {
				t.Fatal(err)
			}
			cfg := config.Config{}
			cfg.JWTAlg = security.EdDSA
			cfg.KeyEncryptionKey = enc(tt.current)
			if tt.prev != nil {
				cfg.KeyEncryptionKeyPrevious = enc(tt.prev)
			}
			if tt.next != nil {
				cfg.KeyEncryptionKeyNext = enc(tt.next)
			}
			sealer, err := keySealer(cfg, log)
			if err != nil {
				t.Fatal(err)
			}
			want, err := deriveKey(old)
			if err != nil {
				t.Fatal(err)
			}
			for start := range 2 {
				got, err := serviceKey(t.Context(), cfg, db, log, sealer)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("start %d: service key %x, %v; want %x, derived from the key everything was sealed with", start, got, err, want)
				}
			}
		})
	}
}

// TestFirstServiceKeyOfANewDatabase: a database with nothing sealed yet
// gets the service key derived from the key that seals, never from one
// that only opens.
func TestFirstServiceKeyOfANewDatabase(t *testing.T) {
	cur, other := bytes.Repeat([]byte{3}, 32), bytes.Repeat([]byte{4}, 32)
	enc := base64.StdEncoding.EncodeToString
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db := storetest.SQLite(t)
	cfg := config.Config{}
	cfg.JWTAlg = security.EdDSA
	cfg.KeyEncryptionKey, cfg.KeyEncryptionKeyPrevious = enc(cur), enc(other)
	sealer, err := keySealer(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	want, err := deriveKey(cur)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := serviceKey(t.Context(), cfg, db, log, sealer); err != nil || !bytes.Equal(got, want) {
		t.Errorf("service key %x, %v; want %x, derived from the current key", got, err, want)
	}
}

// TestResealRefusedDuringTheFirstRoll: run with the new key as next (the
// first roll's settings) the reseal would seal under the old key; it
// refuses, saying when to run it.
func TestResealRefusedDuringTheFirstRoll(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString
	cfg := config.Config{}
	cfg.JWTAlg = security.EdDSA
	cfg.KeyEncryptionKey, cfg.KeyEncryptionKeyNext = enc(bytes.Repeat([]byte{5}, 32)), enc(bytes.Repeat([]byte{6}, 32))
	_, err := Reseal(t.Context(), cfg, storetest.SQLite(t), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !errors.Is(err, ErrResealDuringFirstRoll) {
		t.Errorf("reseal with a next key: %v, want ErrResealDuringFirstRoll", err)
	}
}
