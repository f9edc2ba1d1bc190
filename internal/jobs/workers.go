package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/user"
)

// MailArgs is a queued account mail. Its token is sealed (Sealer) for
// this mail's kind and user: the jobs table holds no usable token.
type MailArgs struct {
	MailKind    string        `json:"kind"`
	To          string        `json:"to"`
	UserID      uuid.UUID     `json:"user_id"`
	SealedToken []byte        `json:"sealed_token,omitempty"`
	TTL         time.Duration `json:"ttl,omitempty"`
}

// Kind is River's name of the job kind.
func (MailArgs) Kind() string { return "mail" }

// InsertOpts puts security mail in its own queue.
func (a MailArgs) InsertOpts() river.InsertOpts {
	queue := QueueMail
	if security(user.MailKind(a.MailKind)) {
		queue = QueueSecurityMail
	}
	return river.InsertOpts{Queue: queue, MaxAttempts: mailAttempts}
}

// security reports whether mail of kind protects an account, and so must
// never wait behind other mail.
func security(kind user.MailKind) bool {
	return kind == user.MailResetPassword || kind == user.MailEmailChanged ||
		kind == user.MailMFARemoved || kind == user.MailRecoveryCodeUsed || kind == user.MailPasskeyAdded ||
		kind == user.MailTOTPEnabled || kind == user.MailRecoveryCodesGenerated
}

// purpose is what the token is sealed for.
func (a MailArgs) purpose() string { return "mail token\x00" + a.MailKind + "\x00" + a.UserID.String() }

type mailWorker struct {
	river.WorkerDefaults[MailArgs]
	mailer   user.Notifier
	sealer   Sealer
	accounts Accounts
	observer Observer
	log      *slog.Logger
	now      func() time.Time
}

// errLinkExpired cancels a mail whose link expired while it waited: sent,
// it would only lead to "expired".
var errLinkExpired = errors.New("the mailed link expired before the mail could go out: not sent (the user can ask for a new one)")

// errAccountDeleted cancels a mail whose account was deleted while it
// waited, with a link or a notice: a link died with the account, a notice
// tells about an account that is gone, and the address is no longer one
// the service may write to.
var errAccountDeleted = errors.New("the account was deleted before the mail could go out: not sent")

// deadLink says why j's mail must not go out: its link expired while it
// waited (errLinkExpired), or its account was deleted (errAccountDeleted);
// nil when it may. An error (the store unavailable) tries again later.
func (w *mailWorker) deadLink(ctx context.Context, j *river.Job[MailArgs]) (why, err error) {
	a := j.Args
	if len(a.SealedToken) > 0 && a.TTL > 0 && !w.now().Before(j.CreatedAt.Add(a.TTL)) {
		return errLinkExpired, nil
	}
	if w.accounts == nil || a.UserID == uuid.Nil {
		return nil, nil
	}
	_, err = w.accounts.ByID(ctx, a.UserID)
	if errors.Is(err, user.ErrNotFound) {
		return errAccountDeleted, nil
	}
	return nil, err
}

func (w *mailWorker) Work(ctx context.Context, j *river.Job[MailArgs]) error {
	a := j.Args
	m := user.Mail{Kind: user.MailKind(a.MailKind), To: a.To, UserID: a.UserID, TTL: a.TTL}
	switch why, err := w.deadLink(ctx, j); {
	case err != nil:
		return err
	case why != nil:
		w.count(a.MailKind, j.Attempt, j.MaxAttempts, true)
		return river.JobCancel(why)
	}
	if len(a.SealedToken) > 0 {
		token, err := w.sealer.OpenFor(a.SealedToken, a.purpose())
		if err != nil {
			w.count(a.MailKind, j.Attempt, j.MaxAttempts, true)
			return river.JobCancel(fmt.Errorf("open the mail's token: %w", err))
		}
		m.Token = string(token)
	}
	if err := w.mailer.Send(ctx, m); err != nil {
		undeliverable := errors.Is(err, user.ErrUndeliverable)
		final := undeliverable || j.Attempt >= j.MaxAttempts
		w.count(a.MailKind, j.Attempt, j.MaxAttempts, final)
		level := slog.LevelWarn
		if final {
			level = slog.LevelError
		}
		w.log.Log(ctx, level, "account mail not delivered", "kind", a.MailKind, "user_id", a.UserID.String(),
			"job_id", j.ID, "attempt", j.Attempt, "max_attempts", j.MaxAttempts, "error", err.Error())
		if undeliverable {
			return river.JobCancel(err) // trying again cannot help
		}
		return err
	}
	if w.observer != nil {
		w.observer.MailSent(a.MailKind)
	}
	return nil
}

// count counts a failed attempt: retried, or failed for good.
func (w *mailWorker) count(kind string, attempt, maxAttempts int, final bool) {
	if w.observer == nil {
		return
	}
	if final || attempt >= maxAttempts {
		w.observer.MailFailed(kind)
		return
	}
	w.observer.MailRetried(kind)
}

// EventArgs is an event as its change queued it: the fan-out job, which
// queues one DeliveryArgs per sink the working process has. So the process
// that makes a change (a replica, a command) need not know the sinks, and
// an event emitted while none was configured is still numbered and kept.
type EventArgs struct {
	Event event.Event `json:"event"`
}

// Kind is River's name of the job kind.
func (EventArgs) Kind() string { return "event" }

// InsertOpts puts events in their queue.
func (EventArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueEvents, MaxAttempts: eventAttempts}
}

type fanOutWorker struct {
	river.WorkerDefaults[EventArgs]
	sinks  []string
	insert func(context.Context, []river.InsertManyParams) error
}

// Work queues the event for each sink. A fan-out that runs twice (it
// failed after queueing) queues nothing twice: the deliveries are unique
// by sink and event.
func (w *fanOutWorker) Work(ctx context.Context, j *river.Job[EventArgs]) error {
	if len(w.sinks) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, 0, len(w.sinks))
	for _, s := range w.sinks {
		params = append(params, river.InsertManyParams{Args: DeliveryArgs{Sink: s, Event: j.Args.Event}})
	}
	return w.insert(ctx, params)
}

// DeliveryArgs is an event to deliver to one sink.
type DeliveryArgs struct {
	Sink  string      `json:"sink"`
	Event event.Event `json:"event"`
}

// Kind is River's name of the job kind.
func (DeliveryArgs) Kind() string { return "event_delivery" }

// InsertOpts puts deliveries in the events' queue, one per sink and event.
func (DeliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueEvents, MaxAttempts: eventAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// orderWait is how long a delivery waits (snoozes) when more of its
// user's earlier events are still queued than it hands over itself.
const orderWait = time.Second

type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	sinks map[string]Sink
	// earlier returns the events of e's subject numbered before e that are
	// still queued for sink (not yet fanned out, or not yet delivered to
	// it), in seq order, from at most limit jobs, and whether there may be
	// more.
	earlier func(ctx context.Context, sink string, e event.Event, limit int) ([]event.Event, bool, error)
}

// earlierLimit is the most jobs of earlier events a delivery reads (and
// hands over) before its own; with more it waits for theirs.
const earlierLimit = 100

// Work hands the event to its sink after the subject's earlier events
// that are still queued: the queue runs several jobs at once, and a user's
// second event must not overtake the first (a slow receiver, a retry). So
// rather than wait for the earlier events' jobs, it hands their events
// over first itself; a sink takes an event handed over twice once (Sink),
// so their own jobs, when they run, add nothing. An earlier event whose
// jobs were discarded holds nothing back.
func (w *deliveryWorker) Work(ctx context.Context, j *river.Job[DeliveryArgs]) error {
	s, ok := w.sinks[j.Args.Sink]
	if !ok {
		// A sink configured when the event was fanned out and no longer:
		// its deliveries stay (and end discarded) for the day it comes back.
		return fmt.Errorf("no event sink %q is configured", j.Args.Sink)
	}
	if j.Args.Event.Subject != uuid.Nil && j.Args.Event.Seq > 1 {
		before, more, err := w.earlier(ctx, j.Args.Sink, j.Args.Event, earlierLimit)
		if err != nil {
			return err
		}
		if more {
			return river.JobSnooze(orderWait) // more are queued: their own jobs go first
		}
		for _, e := range before {
			if err := s.Deliver(ctx, e); err != nil {
				return fmt.Errorf("event %d of %s, before %d: %w", e.Seq, e.Subject, j.Args.Event.Seq, err)
			}
		}
	}
	return s.Deliver(ctx, j.Args.Event)
}

// isNilPointer reports whether v is a nil pointer or interface (a missing
// transaction).
func isNilPointer(v any) bool {
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Pointer, reflect.Interface:
		return r.IsNil()
	}
	return false
}
