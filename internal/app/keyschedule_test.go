package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// TestScheduledKeyRotationIsAudited: a signing key made by the service's
// schedule (USERSVC_KEY_ROTATE_EVERY) was only logged, while `usersvc
// keys rotate` records signing_key.rotated in the audit log: the log of
// who changed the keys had a hole wherever a schedule ran. The scheduled
// rotation is now recorded the same way, its user agent and detail saying
// it was the service's schedule.
func TestScheduledKeyRotationIsAudited(t *testing.T) {
	for _, kind := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(kind, func(t *testing.T) {
			reloads := make(chan time.Time)
			srv := apptest.New(t, kind, apptest.Env("USERSVC_JWT_ALG", "EdDSA", "USERSVC_KEY_ROTATE_EVERY", "1h"),
				apptest.With(app.WithKeyReloads(reloads)))
			first := srv.App.Ring().List()
			srv.Clock.Advance(2 * time.Hour)
			// Run takes the second time once it has rotated at the first.
			reloads <- time.Now()
			reloads <- time.Now()
			keys := srv.App.Ring().List()
			if len(first) != 1 || len(keys) != 2 {
				t.Fatalf("keys before the schedule %v, after %v; want one, then a second made on schedule", first, keys)
			}
			rotated := keys[1].ID
			events, err := srv.Stores.Audit.Events(t.Context(), user.AuditFilter{Kinds: []user.AuditKind{app.AuditKeyRotated}})
			if err != nil || len(events) != 1 {
				t.Fatalf("%s events after a scheduled rotation: %+v, %v; want one", app.AuditKeyRotated, events, err)
			}
			e := events[0]
			if e.Detail["kid"] != rotated || e.Detail["by"] != "schedule" || !strings.Contains(e.UserAgent, "USERSVC_KEY_ROTATE_EVERY") {
				t.Errorf("the scheduled rotation was recorded with user agent %q, detail %v; want kid %s, by schedule, the setting named", e.UserAgent, e.Detail, rotated)
			}
		})
	}
}
