package app

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/storetest"
)

// TestLoadRingWithoutAKeyEncryptionKey: with neither a configured nor a
// development key-encryption key, LoadRing lists an empty database's
// (no) keys and makes none, and fails on a stored key with an error that
// is both ErrNoDevKey and signing.ErrNoEncryptionKey; with the key that
// sealed it, it loads that key. RingToChange loads the same ring.
func TestLoadRingWithoutAKeyEncryptionKey(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db := storetest.SQLite(t)
	cfg := config.Config{}
	cfg.JWTAlg = security.EdDSA
	cfg.AccessTokenTTL = time.Minute
	cfg.DataDir = t.TempDir()

	ring, err := LoadRing(t.Context(), cfg, db, log, time.Now)
	if err != nil || len(ring.List()) != 0 {
		t.Fatalf("LoadRing of an empty database without a key-encryption key: %v, %v; want no keys and no error", ring, err)
	}
	if keys, err := db.SigningKeys().Keys(t.Context()); err != nil || len(keys) != 0 {
		t.Fatalf("after LoadRing the database holds %d signing keys (%v), want none", len(keys), err)
	}

	kek := bytes.Repeat([]byte{1}, 32)
	sealer, err := signing.NewSealer(kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signing.Open(t.Context(), db.SigningKeys(), sealer, signing.Options{Alg: security.EdDSA, Overlap: time.Hour}); err != nil {
		t.Fatal(err)
	}
	_, err = LoadRing(t.Context(), cfg, db, log, time.Now)
	if !errors.Is(err, ErrNoDevKey) || !errors.Is(err, signing.ErrNoEncryptionKey) || !strings.HasPrefix(err.Error(), "signing keys: ") {
		t.Errorf("LoadRing of a stored key without a key-encryption key: %v; want signing keys: ... ErrNoEncryptionKey ... ErrNoDevKey", err)
	}

	cfg.KeyEncryptionKey = base64.StdEncoding.EncodeToString(kek)
	for name, load := range map[string]func() (*signing.Ring, error){
		"LoadRing":     func() (*signing.Ring, error) { return LoadRing(t.Context(), cfg, db, log, time.Now) },
		"RingToChange": func() (*signing.Ring, error) { return RingToChange(t.Context(), cfg, db, log, time.Now) },
	} {
		if ring, err := load(); err != nil || len(ring.List()) != 1 {
			t.Errorf("%s with the key that sealed the stored key: %v; want it loaded", name, err)
		}
	}
}
