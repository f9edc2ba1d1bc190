package sqlite

import (
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/retention"
)

// TestPurgeErrors: on a closed store every retention call fails with an
// error, never a count of zero that a run or a dry run would report as
// "nothing to remove".
func TestPurgeErrors(t *testing.T) {
	s := openMigrated(t)
	p := s.Purge()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, before := t.Context(), time.Now()
	for name, call := range map[string]func() error{
		"PurgeSessions":      func() error { _, _, err := p.PurgeSessions(ctx, before, 10); return err },
		"PurgeAccountTokens": func() error { _, err := p.PurgeAccountTokens(ctx, before, 10); return err },
		"PurgeEmailChanges":  func() error { _, err := p.PurgeEmailChanges(ctx, before, 10); return err },
		"PurgeMFAChallenges": func() error { _, err := p.PurgeMFAChallenges(ctx, before, 10); return err },
		"Pending": func() error {
			_, err := p.Pending(ctx, retention.Cutoffs{Sessions: before, Tokens: before, Audit: before, Challenges: before})
			return err
		},
		"Oldest": func() error { _, err := p.Oldest(ctx); return err },
	} {
		if err := call(); err == nil {
			t.Errorf("%s on a closed store: no error", name)
		}
	}
}
