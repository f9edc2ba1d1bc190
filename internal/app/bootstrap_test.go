package app_test

import (
	"log/slog"
	"sync"
	"testing"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
)

// TestBootstrapAdminRace starts several replicas at once on one database,
// each with the same USERSVC_BOOTSTRAP_ADMIN_*: none fails and exactly one
// administrator results.
func TestBootstrapAdminRace(t *testing.T) {
	for _, db := range []struct {
		name    string
		environ func(t *testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string { return []string{"DATABASE_URL=" + storetest.PostgresURL(t)} }},
	} {
		t.Run(db.name, func(t *testing.T) {
			cfg := load(t, db.environ(t)...)
			first, err := app.New(t.Context(), cfg, slog.New(slog.DiscardHandler)) // migrates; no bootstrap admin
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			cfg.MigrateOnStart = false
			cfg.BootstrapAdminEmail, cfg.BootstrapAdminUsername, cfg.BootstrapAdminPassword = "root@example.com", "root", "b00tstrap s3cret"
			const replicas = 4
			errs := make([]error, replicas)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range replicas {
				wg.Go(func() {
					<-start
					a, err := app.New(t.Context(), cfg, slog.New(slog.DiscardHandler))
					if err == nil {
						a.Close()
					}
					errs[i] = err
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("replica %d: %v", i, err)
				}
			}
			all, err := first.Stores().Users.List(t.Context(), user.ListQuery{Limit: 10})
			if err != nil || len(all) != 1 || all[0].Role != user.RoleAdmin || !all[0].IsActive {
				t.Errorf("users after the race = %+v, %v; want one active admin", all, err)
			}
		})
	}
}
