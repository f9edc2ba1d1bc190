package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/signing"
)

func TestKeysCommandUsage(t *testing.T) {
	environ := []string{"USERSVC_DATA_DIR=" + t.TempDir()}
	for _, args := range [][]string{{"keys"}, {"keys", "burn"}} {
		if err := run(context.Background(), args, environ, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded, want a usage error", args)
		}
	}
	if err := run(context.Background(), []string{"keys", "list"}, append(environ, "USERSVC_JWT_ALG=HS256"), io.Discard); err == nil {
		t.Error("keys list with HS256 succeeded, want an error: there are no stored keys")
	}
	if err := run(context.Background(), []string{"keys", "list"}, append(environ, "USERSVC_JWT_ALG=bogus"), io.Discard); err == nil {
		t.Error("keys list with a bad configuration succeeded")
	}
}

func TestKeysRotateRetireList(t *testing.T) {
	environ := []string{"USERSVC_DATA_DIR=" + t.TempDir()}
	var out strings.Builder
	if err := run(t.Context(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
		t.Fatal(err)
	}
	firstSigningKey(t, environ)
	if err := run(t.Context(), []string{"keys", "list"}, environ, &out); err != nil {
		t.Fatalf("keys list: %v", err)
	}
	first := strings.Fields(strings.Split(out.String(), "\n")[1])[0]
	out.Reset()
	if err := run(t.Context(), []string{"keys", "retire", first}, environ, &out); err == nil {
		t.Error("keys retire of the signing key succeeded, want a refusal: nothing would sign")
	}
	if err := run(t.Context(), []string{"keys", "rotate"}, environ, &out); err != nil || !strings.Contains(out.String(), "pending") {
		t.Fatalf("keys rotate: %v, output %q; want a pending key", err, out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"keys", "rotate", "--now"}, environ, &out); err != nil {
		t.Fatalf("keys rotate --now: %v", err)
	}
	out.Reset()
	if err := run(t.Context(), []string{"keys", "retire", first}, environ, &out); err != nil {
		t.Fatalf("keys retire %s: %v", first, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.Contains(lines[2], first) || !strings.Contains(lines[2], "revoked") ||
		!strings.Contains(lines[3], "active") || !strings.Contains(lines[4], "pending") {
		t.Errorf("keys list after retire = %q, want the first key revoked, the --now key active, the staged one pending", out.String())
	}
	for _, args := range [][]string{{"keys", "retire"}, {"keys", "list", "--now"}, {"keys", "rotate", "x"}, {"keys", "rotate", "--bogus"}} {
		if err := run(t.Context(), args, environ, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded, want a usage error", args)
		}
	}
}

// TestKeysReseal: `usersvc keys reseal` moves what the development key
// sealed under a new key, says so by kind, and then the old key is not
// needed; with keys that open nothing it refuses, naming what.
func TestKeysReseal(t *testing.T) {
	dir := t.TempDir()
	environ := []string{"USERSVC_DATA_DIR=" + dir}
	if err := run(t.Context(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
		t.Fatal(err)
	}
	firstSigningKey(t, environ) // as serve's first start does; the reseal stores the service key
	old, err := os.ReadFile(filepath.Join(dir, config.KeyEncryptionKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	fresh := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuv"), 1))
	rotating := append(slices.Clone(environ), "USERSVC_KEY_ENCRYPTION_KEY="+fresh, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS="+strings.TrimSpace(string(old)))
	var out strings.Builder
	if err := run(t.Context(), []string{"keys", "reseal"}, rotating, &out); err != nil {
		t.Fatalf("keys reseal: %v", err)
	}
	for _, want := range []string{"signing keys: 1 resealed", "service key: 0 resealed, 1 already under the current key", "TOTP secrets: 0 resealed", "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS can be removed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("keys reseal printed %q, want %q in it", out.String(), want)
		}
	}
	if err := run(t.Context(), []string{"keys", "list"}, append(slices.Clone(environ), "USERSVC_KEY_ENCRYPTION_KEY="+fresh), io.Discard); err != nil {
		t.Errorf("keys list with the new key alone after the reseal: %v", err)
	}
	strangers := append(slices.Clone(environ), "USERSVC_KEY_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'x', 'y'}, 16)))
	err = run(t.Context(), []string{"keys", "reseal"}, strangers, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "1 signing keys") || !strings.Contains(err.Error(), "nothing was resealed") {
		t.Errorf("keys reseal with a key that opens nothing: %v, want a refusal naming 1 signing keys", err)
	}
	if err := run(t.Context(), []string{"keys", "reseal", "--now"}, environ, io.Discard); err == nil {
		t.Error("keys reseal --now succeeded, want a usage error")
	}
}

// TestKeysListOnlyReads: `usersvc keys list` on a database without
// signing keys stored the first one, a write from a command that lists
// (and a key made outside serve, by whoever looked). It now changes
// nothing: the table is empty, and stderr says there are no keys yet.
func TestKeysListOnlyReads(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			environ := db.environ(t)
			st := keyStore(t, environ)
			var stdout, stderr bytes.Buffer
			if err := runWithStreams(t.Context(), []string{"keys", "list"}, environ, nil, &stdout, &stderr); err != nil {
				t.Fatalf("keys list: %v", err)
			}
			if lines := strings.Split(strings.TrimSpace(stdout.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "KID") {
				t.Errorf("keys list printed %q, want the header of an empty table", stdout.String())
			}
			if !strings.Contains(stderr.String(), "no signing keys") {
				t.Errorf("keys list printed on stderr %q, want it to say there are no signing keys", stderr.String())
			}
			if keys, err := st.Keys(t.Context()); err != nil || len(keys) != 0 {
				t.Errorf("after keys list the database holds %d signing keys (%v), want none", len(keys), err)
			}
		})
	}
}

// keyStore migrates the database environ names and returns its signing
// keys, as the command leaves them.
func keyStore(t *testing.T, environ []string) signing.Repository {
	t.Helper()
	return migratedStore(t, environ).SigningKeys()
}

// firstSigningKey stores the first signing key in the migrated database
// environ names, as serve does when it starts on a database without one.
func firstSigningKey(t *testing.T, environ []string) {
	t.Helper()
	cfg, err := config.Load(environ, "")
	if err != nil {
		t.Fatal(err)
	}
	db, err := app.OpenMigrated(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := app.OpenRing(t.Context(), cfg, db, slog.New(slog.DiscardHandler), time.Now); err != nil {
		t.Fatal(err)
	}
}

// TestKeysRotateOnAnEmptyDatabaseMakesOneKey: `usersvc keys rotate` on a
// database without signing keys opened the ring as serve does, which
// stored a first key, and then rotated, storing a second: two keys, the
// first signing for the publish delay and retiring unused. It now makes
// exactly one, which signs at once (a staged key would leave nothing to
// sign with until its moment), and says so; `keys retire` of an unknown
// key stores none either.
func TestKeysRotateOnAnEmptyDatabaseMakesOneKey(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			retired := db.environ(t)
			if err := run(t.Context(), []string{"keys", "retire", "NOSUCHKEY"}, retired, io.Discard); err == nil {
				t.Error("keys retire of an unknown key succeeded")
			}
			if keys, err := keyStore(t, retired).Keys(t.Context()); err != nil || len(keys) != 0 {
				t.Errorf("after keys retire of an unknown key the database holds %d signing keys (%v), want none", len(keys), err)
			}
			environ := db.environ(t)
			st := keyStore(t, environ)
			var out strings.Builder
			if err := run(t.Context(), []string{"keys", "rotate"}, environ, &out); err != nil {
				t.Fatalf("keys rotate: %v", err)
			}
			keys, err := st.Keys(t.Context())
			if err != nil || len(keys) != 1 {
				t.Fatalf("after keys rotate on an empty database it holds %d signing keys (%v), want 1\n%s", len(keys), err, out.String())
			}
			if !strings.Contains(out.String(), keys[0].ID) || !strings.Contains(out.String(), "signs now") {
				t.Errorf("keys rotate printed %q, want it to say that %s signs now", out.String(), keys[0].ID)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if last := lines[len(lines)-1]; !strings.Contains(last, keys[0].ID) || !strings.Contains(last, "active") {
				t.Errorf("keys rotate's table ends %q, want %s active", last, keys[0].ID)
			}
		})
	}
}
