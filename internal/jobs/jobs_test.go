package jobs_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/jobs"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// queue is what the tests use of a jobs.Queue of either database.
type queue interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Jobs(ctx context.Context, state string, limit int) ([]user.Job, error)
	RetryJob(ctx context.Context, id int64) (user.Job, error)
	Backlogs(ctx context.Context) ([]jobs.Backlog, error)
}

// opener builds a Queue over one database (another one each call, as a
// restarted process would) and returns it with the stores, whose Outbox
// is that queue's.
type opener func(t *testing.T, c jobs.Config) (queue, user.Stores)

// database opens a fresh migrated database.
type database struct {
	name string
	open func(t *testing.T) opener
}

func databases(*testing.T) []database {
	return []database{
		{"sqlite", func(t *testing.T) opener {
			db := storetest.SQLite(t)
			return func(t *testing.T, c jobs.Config) (queue, user.Stores) {
				q, err := jobs.NewSQLite(db.Writer(), c)
				if err != nil {
					t.Fatal(err)
				}
				db.UseOutbox(q.Outbox)
				return q, db.Stores()
			}
		}},
		{"postgres", func(t *testing.T) opener {
			db := storetest.Postgres(t)
			return func(t *testing.T, c jobs.Config) (queue, user.Stores) {
				q, err := jobs.NewPostgres(db.Pool(), c)
				if err != nil {
					t.Fatal(err)
				}
				db.UseOutbox(q.Outbox)
				return q, db.Stores()
			}
		}},
	}
}

// sinkRecorder is a Sink that passes the events it gets on, each once: a
// sink may be handed an event again (Sink), as a delivery hands over its
// user's earlier events still queued.
type sinkRecorder struct {
	events chan event.Event
	mu     sync.Mutex
	seen   map[string]bool
}

func newSinkRecorder() *sinkRecorder {
	return &sinkRecorder{events: make(chan event.Event, 16), seen: map[string]bool{}}
}

func (s *sinkRecorder) Deliver(_ context.Context, e event.Event) error {
	s.mu.Lock()
	again := s.seen[e.ID]
	s.seen[e.ID] = true
	s.mu.Unlock()
	if !again {
		s.events <- e
	}
	return nil
}

// next waits (at most 10 s) for the next event.
func (s *sinkRecorder) next(t *testing.T) event.Event {
	t.Helper()
	select {
	case e := <-s.events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event arrived")
		return event.Event{}
	}
}

func sealer(t testing.TB) *signing.Sealer {
	s, err := signing.NewSealer([]byte(strings.Repeat("k", signing.KeyEncryptionKeyBytes)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func config(t *testing.T, mailer user.Notifier, sink jobs.Sink) jobs.Config {
	c := jobs.Config{Mailer: mailer, Sealer: sealer(t), PollInterval: 20 * time.Millisecond}
	if sink != nil {
		c.Sinks = map[string]jobs.Sink{"test": sink}
	}
	return c
}

func start(t *testing.T, q queue) {
	t.Helper()
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
}

func service(t testing.TB, st user.Stores) *user.Service {
	b, err := security.NewBcrypt(4)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := security.NewHS256([]byte(strings.Repeat("k", 32)), "test", time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return user.NewService(user.Deps{Stores: st, Hasher: b, Tokens: tokens}, user.Policy{})
}

func nextMail(t *testing.T, box *usertest.Mailbox) usertest.Mail {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, err := box.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var ada = user.Registration{Email: "ada@example.com", Username: "ada", Password: "correct horse battery"}

// TestCommittedChangeHasMailAndEvent: a registration mails its
// verification link (the token usable, though sealed in the job) and
// emits user.created, numbered 1 for its account; the next change of the
// account is 2.
func TestCommittedChangeHasMailAndEvent(t *testing.T) {
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			box, sink := usertest.NewMailbox(), newSinkRecorder()
			q, st := d.open(t)(t, config(t, box, sink))
			start(t, q)
			svc := service(t, st)
			u, err := svc.Register(t.Context(), ada)
			if err != nil {
				t.Fatal(err)
			}
			m := nextMail(t, box)
			if m.Kind != usertest.MailVerify || m.To != ada.Email || m.Token == "" {
				t.Fatalf("mail: got %+v, want a verification link to %s", m, ada.Email)
			}
			e := sink.next(t)
			if e.Type != event.UserCreated || e.Subject != u.ID || e.Seq != 1 || e.ID == "" {
				t.Errorf("event: got %+v, want user.created of %s, seq 1", e, u.ID)
			}
			if strings.Contains(string(e.Data), "hash") || strings.Contains(string(e.Data), m.Token) {
				t.Errorf("event data holds a secret: %s", e.Data)
			}
			if _, err := svc.VerifyEmail(t.Context(), m.Token); err != nil {
				t.Fatalf("verify with the mailed token: %v", err)
			}
			if e := sink.next(t); e.Type != event.UserEmailVerified || e.Seq != 2 {
				t.Errorf("event: got %s seq %d, want user.email_verified seq 2", e.Type, e.Seq)
			}
			// The jobs table holds no usable token.
			for _, j := range mustList(t, q, "") {
				if strings.Contains(j.LastError, m.Token) {
					t.Errorf("job %d shows the token", j.ID)
				}
			}
		})
	}
}

// TestRolledBackChangeHasNeither: mail and an event queued in a
// transaction that fails leave no job; the same committed leave both.
func TestRolledBackChangeHasNeither(t *testing.T) {
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			q, st := d.open(t)(t, config(t, usertest.NewMailbox(), newSinkRecorder()))
			id := uuid.New()
			queueBoth := func(tx user.Stores) error {
				if err := tx.Outbox.Mail(t.Context(), user.Mail{Kind: user.MailPasswordChanged, To: "ada@example.com", UserID: id}); err != nil {
					return err
				}
				return tx.Outbox.Emit(t.Context(), event.Event{ID: uuid.NewString(), Type: event.UserUpdated, Time: time.Now(), Subject: id, Data: []byte(`{}`)})
			}
			failed := errors.New("the change fails")
			err := st.Tx.Atomic(t.Context(), func(tx user.Stores) error {
				if err := queueBoth(tx); err != nil {
					return err
				}
				return failed
			})
			if !errors.Is(err, failed) {
				t.Fatalf("Atomic: got %v, want the change's error", err)
			}
			if jobs := mustList(t, q, ""); len(jobs) != 0 {
				t.Fatalf("after a rollback: %d jobs, want none", len(jobs))
			}
			if err := st.Tx.Atomic(t.Context(), queueBoth); err != nil {
				t.Fatal(err)
			}
			if jobs := mustList(t, q, ""); len(jobs) != 2 {
				t.Fatalf("after a commit: %d jobs, want the mail and the event", len(jobs))
			}
			if err := st.Outbox.Mail(t.Context(), user.Mail{Kind: user.MailPasswordChanged}); err == nil {
				t.Error("the Outbox outside a transaction took a mail, want it refused")
			}
		})
	}
}

// TestRestartLosesNothing: what a process queued and never sent (it died
// first) is sent by the next process over the same database.
func TestRestartLosesNothing(t *testing.T) {
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			box, sink := usertest.NewMailbox(), newSinkRecorder()
			open := d.open(t)
			// The first process queues and dies before working its queue.
			_, st := open(t, config(t, box, sink))
			svc := service(t, st)
			u, err := svc.Register(t.Context(), ada)
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.RequestPasswordReset(t.Context(), ada.Email); err != nil {
				t.Fatal(err)
			}
			if err := svc.Close(t.Context()); err != nil { // the reset's lookup runs in the background
				t.Fatal(err)
			}
			if got := box.All(); len(got) != 0 {
				t.Fatalf("mail sent before any queue ran: %v", got)
			}
			// The next process, over the same database.
			q, _ := open(t, config(t, box, sink))
			start(t, q)
			kinds := map[string]bool{}
			for range 2 {
				kinds[nextMail(t, box).Kind] = true
			}
			if !kinds[usertest.MailVerify] || !kinds[usertest.MailReset] {
				t.Errorf("mail after the restart: got %v, want the verification and the reset", kinds)
			}
			if e := sink.next(t); e.Type != event.UserCreated || e.Subject != u.ID {
				t.Errorf("event after the restart: got %s of %s, want user.created of %s", e.Type, e.Subject, u.ID)
			}
		})
	}
}

func mustList(t *testing.T, q queue, state string) []user.Job {
	t.Helper()
	js, err := q.Jobs(t.Context(), state, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// heldNotices is a mailer that holds every password-changed notice until
// release, and delivers the rest to its Mailbox at once: a mail server
// that is slow for a flood of notices.
type heldNotices struct {
	*usertest.Mailbox
	release chan struct{}
	once    sync.Once
	started chan struct{} // gets a value as each held notice starts
}

func (h *heldNotices) Send(ctx context.Context, m user.Mail) error {
	if m.Kind == user.MailPasswordChanged {
		select {
		case h.started <- struct{}{}:
		default:
		}
		select {
		case <-h.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return h.Mailbox.Send(ctx, m)
}

// TestNoticesDoNotDelayResetMail: with 1,000 notices queued and every
// worker of their queue busy on one the mail server holds, a reset mail
// is sent at once: it waits for its own sending only.
func TestNoticesDoNotDelayResetMail(t *testing.T) {
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			mailer := &heldNotices{Mailbox: usertest.NewMailbox(), release: make(chan struct{}), started: make(chan struct{}, 1)}
			t.Cleanup(func() { mailer.once.Do(func() { close(mailer.release) }) })
			c := config(t, mailer, nil)
			c.Workers = 2
			q, st := d.open(t)(t, c)
			err := st.Tx.Atomic(t.Context(), func(tx user.Stores) error {
				for range 1000 {
					if err := tx.Outbox.Mail(t.Context(), user.Mail{Kind: user.MailPasswordChanged, To: "bob@example.com", UserID: uuid.New()}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			start(t, q)
			<-mailer.started // the notices' workers are busy and stay so
			err = st.Tx.Atomic(t.Context(), func(tx user.Stores) error {
				return tx.Outbox.Mail(t.Context(), user.Mail{Kind: user.MailResetPassword, To: "ada@example.com", UserID: uuid.New(), Token: "t0ken", TTL: time.Hour})
			})
			if err != nil {
				t.Fatal(err)
			}
			m := nextMail(t, mailer.Mailbox)
			if m.Kind != usertest.MailReset || m.Token != "t0ken" {
				t.Fatalf("got %+v, want the reset mail with its token", m)
			}
			if n := len(mailer.All()); n != 1 {
				t.Errorf("%d mails sent, want only the reset (the notices are held)", n)
			}
			mailer.once.Do(func() { close(mailer.release) })
		})
	}
}
