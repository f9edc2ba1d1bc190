package jobs_test

import (
	"bytes"
	"testing"

	"github.com/usersvc/usersvc/internal/jobs"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestQueuedMailIsResealed: mail queued under the old key-encryption key
// is resealed under the new one, and a process that has only the new key
// then sends it with its token; a second reseal changes nothing.
func TestQueuedMailIsResealed(t *testing.T) {
	for _, d := range []struct {
		name string
		// open makes a database and returns its sealed mail tokens and a
		// way to start a process (a queue and the stores) on it.
		open func(t *testing.T) (signing.SealedColumn, opener)
	}{
		{"sqlite", func(t *testing.T) (signing.SealedColumn, opener) {
			db := storetest.SQLite(t)
			return jobs.MailTokensSQLite(db.Writer()), func(t *testing.T, c jobs.Config) (queue, user.Stores) {
				q := must(jobs.NewSQLite(db.Writer(), c))(t)
				db.UseOutbox(q.Outbox)
				return q, db.Stores()
			}
		}},
		{"postgres", func(t *testing.T) (signing.SealedColumn, opener) {
			db := storetest.Postgres(t)
			return jobs.MailTokensPostgres(db.Pool()), func(t *testing.T, c jobs.Config) (queue, user.Stores) {
				q := must(jobs.NewPostgres(db.Pool(), c))(t)
				db.UseOutbox(q.Outbox)
				return q, db.Stores()
			}
		}},
	} {
		t.Run(d.name, func(t *testing.T) {
			box := usertest.NewMailbox()
			old, fresh := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
			column, open := d.open(t)
			_, st := open(t, jobs.Config{Mailer: box, Sealer: must(signing.NewSealer(old, nil))(t)})
			if _, err := service(t, st).Register(t.Context(), ada); err != nil { // queues the verification mail
				t.Fatal(err)
			}
			rotating := must(signing.NewSealer(fresh, old))(t)
			kinds := []signing.SealedKind{{Name: signing.KindQueuedMail, Column: column}}
			counts, err := signing.Reseal(t.Context(), rotating, kinds, 10)
			if err != nil || counts[0].Resealed != 1 {
				t.Fatalf("Reseal = %+v, %v; want the queued mail resealed", counts, err)
			}
			if again, err := signing.Reseal(t.Context(), rotating, kinds, 10); err != nil || again[0].Resealed != 0 || again[0].Current != 1 {
				t.Errorf("Reseal again = %+v, %v; want nothing resealed", again, err)
			}
			q, _ := open(t, jobs.Config{Mailer: box, Sealer: must(signing.NewSealer(fresh, nil))(t)})
			start(t, q)
			if m := nextMail(t, box); m.Kind != usertest.MailVerify || m.Token == "" {
				t.Errorf("mail after the reseal = %+v, want the verification with its token", m)
			}
		})
	}
}

// must is v, failing the test on err.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
