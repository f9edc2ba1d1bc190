//go:build unix

package sqlite_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestDatabaseFilesAreOwnerOnly (issue 18, finding 7): under a umask that
// lets everyone read new files, a fresh database file and its -wal and
// -shm files are created 0600, and a file an earlier version left 0644 is
// narrowed to 0600. It sets the process's umask, so it does not run in
// parallel.
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "fresh", "usersvc.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := db.Migrator()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(t.Context()); err != nil {
		t.Fatal(err)
	}
	_ = p.Close()
	if _, err := db.Stores().Users.Create(t.Context(), usertest.NewUser(1)); err != nil { // a write: the WAL has content
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		checkMode(t, f, 0o600)
	}
	checkMode(t, filepath.Dir(path), fs.ModeDir|0o700)
	_ = db.Close()

	earlier := filepath.Join(dir, "earlier.db")
	for _, f := range []string{earlier, earlier + "-wal", earlier + "-shm"} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err = sqlite.Open(t.Context(), earlier)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, f := range []string{earlier, earlier + "-wal", earlier + "-shm"} {
		checkMode(t, f, 0o600)
	}
}

func checkMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if got := info.Mode() & (fs.ModeDir | fs.ModePerm); got != want {
		t.Errorf("%s: mode %v, want %v", filepath.Base(path), got, want)
	}
}
