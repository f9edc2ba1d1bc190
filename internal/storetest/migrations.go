package storetest

import (
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/usersvc/usersvc/internal/user/usertest"
)

// CheckMigrations takes a store's migrations down to nothing and up again
// through p, and checks the state and version after each move, that db
// (the database p migrates) stores users before and after, and that
// closing p leaves db open. p must start with every migration applied; step says
// how it got there, for the messages. afterDown runs the store's own checks
// that nothing of its schema is left once everything is down.
func CheckMigrations(t *testing.T, p *goose.Provider, db DB, step string, afterDown func(t *testing.T)) {
	t.Helper()
	ctx, users := t.Context(), db.Stores().Users
	checkVersion := func(step string, want int64) {
		t.Helper()
		got, err := p.GetDBVersion(ctx)
		if err != nil || got != want {
			t.Fatalf("after %s: version = %d, error %v; want %d, nil", step, got, err, want)
		}
	}
	CheckMigrationState(t, p, step, goose.StateApplied)
	sources := p.ListSources()
	last := sources[len(sources)-1].Version // every migration is applied
	checkVersion(step, last)
	if _, err := users.Create(ctx, usertest.NewUser(1)); err != nil {
		t.Fatalf("Create after %s: got error %v, want nil", step, err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("DownTo(0): %v", err)
	}
	CheckMigrationState(t, p, "DownTo(0)", goose.StatePending)
	checkVersion("DownTo(0)", 0)
	afterDown(t)
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("Up again: %v", err)
	}
	CheckMigrationState(t, p, "Up again", goose.StateApplied)
	checkVersion("Up again", last)
	if _, err := users.Create(ctx, usertest.NewUser(1)); err != nil {
		t.Errorf("Create after Up again: got error %v, want nil", err)
	}
	// Closing the provider leaves the store open.
	if err := p.Close(); err != nil {
		t.Fatalf("Close the provider: %v", err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping after closing the provider: got error %v, want nil", err)
	}
}

// CheckMigrationState checks that every migration p knows is in state want,
// after step.
func CheckMigrationState(t *testing.T, p *goose.Provider, step string, want goose.State) {
	t.Helper()
	status, err := p.Status(t.Context())
	if err != nil {
		t.Fatalf("after %s: Status: %v", step, err)
	}
	for _, m := range status {
		if m.State != want {
			t.Errorf("after %s: migration %d is %s, want %s", step, m.Source.Version, m.State, want)
		}
	}
}
