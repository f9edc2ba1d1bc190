package upgradetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// expandOnly is what a failure of the previous release on a new schema
// tells the author of the migration.
const expandOnly = "a release's migrations must keep the previous release working: add, never drop or rename (docs/deploy.md, \"Migrations across a blue/green switch\")"

// TestPreviousReleaseOnNewSchema migrates a new database with the current
// binary (`usersvc migrate up`) and runs the smoke on the previous release
// serving it. Then, on another new database, it applies the migrations
// newer than the previous release one at a time (goose UpTo) and runs the
// smoke after each, so that a failure names the first migration that
// breaks the previous release.
func TestPreviousReleaseOnNewSchema(t *testing.T) {
	bins := built(t)
	t.Logf("previous release %s (from %s)", bins.previous.version, bins.prevFrom)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := newDatabase(t, kind)
			prev := db.migrations(t, bins.previous) // all pending: the database is empty
			added := newer(t, prev, db.migrations(t, bins.current))
			if _, err := command(bins.current.path, db.env(false), "migrate", "up"); err != nil {
				t.Fatal(err)
			}
			whole := serves(t.Context(), bins.previous, db, smoke)
			if len(added) == 0 {
				if whole != nil {
					t.Fatalf("the previous release %s fails on the current schema (no new migration): %v", bins.previous.version, whole)
				}
				t.Logf("no migration newer than %s: it served the schema the current code migrated", bins.previous.version)
				return
			}
			m, err := firstBreaking(t, bins.previous, kind, lastVersion(prev), added)
			if err != nil {
				t.Fatalf("the previous release %s fails on the schema after %s, the first migration that breaks it; %s:\n%v",
					bins.previous.version, m, expandOnly, err)
			}
			if whole != nil {
				t.Fatalf("the previous release %s fails on the schema `usersvc migrate up` made, though it served after each new migration: %v",
					bins.previous.version, whole)
			}
			t.Logf("the previous release %s served after each of %d new migrations", bins.previous.version, len(added))
		})
	}
}

// firstBreaking migrates a new database of kind to prevLast, then applies
// added one at a time and runs the smoke on prev after each; it returns the
// first migration after which the smoke fails, and how it failed.
func firstBreaking(t *testing.T, prev binary, kind string, prevLast int64, added []migration) (migration, error) {
	t.Helper()
	db := newDatabase(t, kind)
	p := db.migrator(t)
	if _, err := p.UpTo(t.Context(), prevLast); err != nil {
		t.Fatalf("migrate up to %d (the previous release's last): %v", prevLast, err)
	}
	for _, m := range added {
		if _, err := p.UpTo(t.Context(), m.version); err != nil {
			t.Fatalf("%s fails to apply: %v", m, err)
		}
		if err := serves(t.Context(), prev, db, smoke); err != nil {
			return m, err
		}
	}
	return migration{}, nil
}

// serves starts bin on db (without migrating), runs each check on it and
// stops it; the error carries the server's output.
func serves(ctx context.Context, bin binary, db database, checks ...func(context.Context, *server) error) error {
	s, err := startServer(ctx, bin.version, bin.path, db.env(false))
	if err != nil {
		return err
	}
	for _, check := range checks {
		if err = check(ctx, s); err != nil {
			break
		}
	}
	if stopErr := s.stop(); stopErr != nil || err != nil {
		return fmt.Errorf("%w\n%s", errors.Join(err, stopErr), s.tail())
	}
	return nil
}

// TestRollbackToPreviousRelease plays a rollback: the previous release
// migrates a new database and writes to it, the current binary migrates it
// up, then `usersvc migrate down` takes back every migration newer than the
// previous release, and the previous release must serve the result, its
// data included. With no new migration there is nothing to take back, and
// the test shows only that up and down of nothing keep the schema.
func TestRollbackToPreviousRelease(t *testing.T) {
	bins := built(t)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := newDatabase(t, kind)
			must(t)(command(bins.previous.path, db.env(false), "migrate", "up"))
			seed := newAccount("seed")
			if err := serves(t.Context(), bins.previous, db, registers(seed)); err != nil {
				t.Fatalf("the previous release on its own schema: %v", err)
			}
			prev := db.migrations(t, bins.previous)
			must(t)(command(bins.current.path, db.env(false), "migrate", "up"))
			added := newer(t, prev, db.migrations(t, bins.current))
			for range added {
				// --yes: a rollback past 00034 gives up the stored service
				// key, which migrate down refuses without it.
				must(t)(command(bins.current.path, db.env(false), "migrate", "down", "--yes"))
			}
			for _, m := range db.migrations(t, bins.current) {
				if want := m.version <= lastVersion(prev); m.applied != want {
					t.Errorf("after migrate down: %s applied = %v, want %v", m, m.applied, want)
				}
			}
			if err := serves(t.Context(), bins.previous, db, logsIn(seed), smoke); err != nil {
				t.Fatalf("the previous release %s after `migrate down` of %d migrations: %v", bins.previous.version, len(added), err)
			}
			t.Logf("rolled back %d migrations newer than %s", len(added), bins.previous.version)
		})
	}
}

// must fails the test when a command fails.
func must(t *testing.T) func(string, error) {
	return func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// registers returns a check that registers a.
func registers(a account) func(context.Context, *server) error {
	return func(ctx context.Context, s *server) error {
		_, err := newClient(s).register(ctx, a)
		return err
	}
}

// logsIn returns a check that a logs in and reads its account.
func logsIn(a account) func(context.Context, *server) error {
	return func(ctx context.Context, s *server) error {
		c := newClient(s)
		p, err := c.login(ctx, a.username, a.password)
		if err != nil {
			return fmt.Errorf("%s, registered before the upgrade: %w", a.username, err)
		}
		_, err = c.me(ctx, p.Access, http.StatusOK)
		return err
	}
}

// TestBothVersionsOnOneDatabase runs the previous release and the current
// code at once on one migrated database, as during a blue/green switch,
// and alternates requests between them: each must accept what the other
// wrote (accounts, tokens, sessions, passwords, mail tokens).
func TestBothVersionsOnOneDatabase(t *testing.T) {
	bins := built(t)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := newDatabase(t, kind)
			must(t)(command(bins.current.path, db.env(false), "migrate", "up"))
			prev := newClient(mustStart(t, bins.previous.version, bins.previous.path, db.env(false)))
			cur := newClient(mustStart(t, bins.current.version, bins.current.path, db.env(false)))
			if err := interleave(t.Context(), prev, cur); err != nil {
				t.Fatalf("previous (%s) and current on one database: %v\n%s\n%s", bins.previous.version, err, prev.srv.tail(), cur.srv.tail())
			}
		})
	}
}

// TestConcurrentStart starts three replicas of the current binary at the
// same moment on one empty database, each migrating on start: all must
// serve, and each migration must have been applied once.
func TestConcurrentStart(t *testing.T) {
	bins := built(t)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := newDatabase(t, kind)
			replicas := startTogether(t, bins.current, db, 3)
			applied := 0
			for _, r := range replicas {
				applied += r.count(func(s string) bool { l, ok := parseLog(s); return ok && l.Msg == "migration applied" })
			}
			if all := db.migrations(t, bins.current); applied != len(all) {
				t.Errorf("the replicas logged %d migrations applied, want %d (each once)", applied, len(all))
			}
			var twice int
			const q = `SELECT count(*) FROM (SELECT version_id FROM goose_db_version GROUP BY version_id HAVING count(*) > 1) AS t`
			if err := db.sql(t).QueryRowContext(t.Context(), q).Scan(&twice); err != nil || twice != 0 {
				t.Errorf("versions recorded more than once: %d (error %v), want 0", twice, err)
			}
			a := newAccount("replica")
			c0, c1, c2 := newClient(replicas[0]), newClient(replicas[1]), newClient(replicas[2])
			if _, err := c0.register(t.Context(), a); err != nil {
				t.Fatal(err)
			}
			if err := adminLists(t.Context(), c1, c2, a); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// startTogether starts n servers of bin at once on db, migrating on start.
func startTogether(t *testing.T, bin binary, db database, n int) []*server {
	t.Helper()
	servers := make([]*server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			servers[i], errs[i] = startServer(t.Context(), fmt.Sprintf("replica %d", i), bin.path, db.env(true))
		})
	}
	wg.Wait()
	for _, s := range servers {
		if s != nil {
			t.Cleanup(func() {
				if err := s.stop(); err != nil {
					t.Errorf("%v\n%s", err, s.tail())
				}
			})
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("replicas started together: %v", err)
	}
	return servers
}

// TestReleasedMigrationsUnchanged checks that every migration file of the
// previous release is in the current tree, byte for byte: a database that
// applied one never applies it again, so an edit would never reach it.
func TestReleasedMigrationsUnchanged(t *testing.T) {
	bins := built(t)
	if bins.prevSrc == "" {
		t.Skip("the previous release was handed in as a binary: no source to compare")
	}
	for _, dir := range []string{"internal/sqlite/migrations", "internal/postgres/migrations"} {
		released := os.DirFS(filepath.Join(bins.prevSrc, dir))
		files, err := fs.Glob(released, "*.sql")
		if err != nil || len(files) == 0 {
			t.Fatalf("%s of %s: %d files, error %v", dir, bins.previous.version, len(files), err)
		}
		for _, f := range files {
			was, _ := fs.ReadFile(released, f)
			now, err := os.ReadFile(filepath.Join(bins.root, dir, f))
			if err != nil || !bytes.Equal(was, now) {
				t.Errorf("%s/%s of %s was changed or removed (%v): add a new migration instead", dir, f, bins.previous.version, err)
			}
		}
	}
}
