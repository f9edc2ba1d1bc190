package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/config"
)

// TestReadOnlyCommandsMakeNoDevelopmentKey: without
// USERSVC_KEY_ENCRYPTION_KEY (or, with HS256, USERSVC_JWT_SECRET) the
// commands that only read generated the development key in the data
// directory, as serve does: `keys list` (its ring's sealer) and `audit
// prune --dry-run` (the job queue of the account service it built). A
// command that only reads leaves the data directory as it found it: it
// works without the key where it needs no secret, and never makes one.
func TestReadOnlyCommandsMakeNoDevelopmentKey(t *testing.T) {
	commands := [][]string{
		{"keys", "list"},
		{"webhooks", "list"},
		{"clients", "list"},
		{"migrate", "status"},
		{"audit", "prune", "--before", "2020-01-01", "--dry-run"},
		{"retention", "run", "--dry-run"},
	}
	for _, db := range databases {
		for _, alg := range []string{"EdDSA", "HS256"} {
			t.Run(db.name+"/"+alg, func(t *testing.T) {
				environ := append(db.environ(t), "USERSVC_JWT_ALG="+alg)
				if err := run(t.Context(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
					t.Fatal(err)
				}
				dir := dataDir(environ)
				removeDevKeys(t, dir) // whatever migrate made: the commands below start without
				for _, args := range commands {
					if alg == "HS256" && args[0] == "keys" {
						continue // no stored keys to list
					}
					var stdout, stderr bytes.Buffer
					if err := runWithStreams(t.Context(), args, environ, nil, &stdout, &stderr); err != nil {
						t.Errorf("%s: %v (stderr %q)", strings.Join(args, " "), err, stderr.String())
					}
					if args[0] == "keys" && !strings.Contains(stderr.String(), "holds no development key-encryption key") {
						t.Errorf("keys list printed on stderr %q, want it to say there is no key-encryption key", stderr.String())
					}
					if made := devKeys(t, dir); len(made) > 0 {
						t.Errorf("%s made %v in the data directory; a command that only reads must make none", strings.Join(args, " "), made)
						removeDevKeys(t, dir)
					}
				}
				if alg == "HS256" {
					return
				}
				// Keys stored under a development key that is gone: keys
				// list cannot open them, says why, and makes no other.
				firstSigningKey(t, environ)
				removeDevKeys(t, dir)
				var stderr bytes.Buffer
				err := runWithStreams(t.Context(), []string{"keys", "list"}, environ, nil, io.Discard, &stderr)
				if err == nil || !strings.Contains(err.Error(), "holds no development key-encryption key") {
					t.Errorf("keys list of keys sealed under a key that is gone: %v, want an error saying there is no key-encryption key", err)
				}
				if made := devKeys(t, dir); len(made) > 0 {
					t.Errorf("keys list of stored keys made %v in the data directory", made)
				}
			})
		}
	}
}

// dataDir is the USERSVC_DATA_DIR of environ.
func dataDir(environ []string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "USERSVC_DATA_DIR="); ok {
			return v
		}
	}
	return ""
}

// devKeys are the development keys (key-encryption key, JWT secret) kept in
// dir.
func devKeys(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	for _, name := range []string{config.KeyEncryptionKeyFile, config.SecretFile} {
		_, err := os.Stat(filepath.Join(dir, name))
		if err == nil {
			found = append(found, name)
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return slices.Clip(found)
}

// removeDevKeys removes the development keys kept in dir.
func removeDevKeys(t *testing.T, dir string) {
	t.Helper()
	for _, name := range devKeys(t, dir) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}
