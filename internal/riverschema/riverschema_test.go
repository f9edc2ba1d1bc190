package riverschema

import (
	"testing"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// TestSchemaVersionIsRiversLatest fails when the River in go.mod has a
// newer schema than the migration applies: the upgrade then needs a new
// migration of ours (never a change to this one, which databases have
// applied already).
func TestSchemaVersionIsRiversLatest(t *testing.T) {
	pg, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	lite, err := rivermigrate.New(riversqlite.New(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, all := range map[string][]rivermigrate.Migration{"postgres": pg.AllVersions(), "sqlite": lite.AllVersions()} {
		if got := all[len(all)-1].Version; got != SchemaVersion {
			t.Errorf("%s: River's newest schema version is %d, the migration applies %d: add a migration that takes it further", name, got, SchemaVersion)
		}
	}
}
