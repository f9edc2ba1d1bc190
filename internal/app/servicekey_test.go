package app

import (
	"bytes"
	"encoding/base64"
	"io"
	"log/slog"
	"testing"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/storetest"
)

// TestFirstServiceKeyIsTheOneEarlierReleasesDerived: on a database of an
// earlier release (no service key stored), the first start stores the key
// that release derived from its key-encryption key, so that recovery
// codes, device and refresh tokens keyed by it keep working; if the key is
// already being rotated, that was the previous key. Later starts read it.
func TestFirstServiceKeyIsTheOneEarlierReleasesDerived(t *testing.T) {
	old, fresh := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	enc := base64.StdEncoding.EncodeToString
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range []struct {
		name          string
		current, prev []byte
	}{
		{"same key", old, nil},
		{"rotating at the first start", fresh, old},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := storetest.SQLite(t)
			cfg := config.Config{}
			cfg.KeyEncryptionKey = enc(tt.current)
			if tt.prev != nil {
				cfg.KeyEncryptionKeyPrevious = enc(tt.prev)
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
