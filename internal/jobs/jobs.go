// Package jobs is the durable job queue (River, github.com/riverqueue/river)
// in the service's own database: it implements user.Outbox, delivers
// account mail, and hands events to their consumers (sinks), retrying
// each job with backoff across restarts and crashes.
//
// Jobs are inserted in the transaction of the change that causes them
// (Outbox), so a committed change always has its mail and its events and
// a rolled-back one has neither. Mail that protects an account (a reset
// link, the notice of an email change) has a queue of its own, so a
// backlog of other mail never delays it. A job that has used its
// attempts stays as a discarded job with its last error, for the admin
// API to show and retry.
package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/user"
)

// The queues.
const (
	// QueueSecurityMail carries the mail that protects an account: reset
	// links and the notices of email changes.
	QueueSecurityMail = "mail_security"
	// QueueMail carries the other account mail: verification links and
	// password-change notices.
	QueueMail = "mail"
	// QueueEvents carries the events, one job per event and sink.
	QueueEvents = "events"
)

// Queues lists every queue, for metrics and the admin listing.
var Queues = []string{QueueSecurityMail, QueueMail, QueueEvents}

// Attempts: how often a job is tried before it is discarded. River waits
// about attempt^4 seconds (with jitter) between tries: mail gives up after
// about an hour and a quarter, when a mailed link has mostly expired; an
// event after about six days.
const (
	mailAttempts  = 8
	eventAttempts = 20
)

// Sink consumes events: the NATS sink, webhooks. Deliver is retried (with
// backoff, as its own job) until it returns nil, so it must be safe to call
// again with the same event: deduplicate by its ID.
type Sink interface {
	Deliver(ctx context.Context, e event.Event) error
}

// Sealer seals the tokens of queued mail (signing.Sealer).
type Sealer interface {
	SealFor(plain []byte, purpose string) []byte
	OpenFor(sealed []byte, purpose string) ([]byte, error)
}

// Observer counts what the queue does, for metrics.
type Observer interface {
	// MailSent, MailRetried and MailFailed count a mail of kind delivered,
	// failed and to be tried again, and failed for good (discarded).
	MailSent(kind string)
	MailRetried(kind string)
	MailFailed(kind string)
}

// Config configures a Queue. Mailer and Sealer are required.
type Config struct {
	// Mailer renders and sends one account mail (mail.Notifier).
	Mailer user.Notifier
	Sealer Sealer
	// Sinks consume the events, by name (a name is stored in each job:
	// keep it stable). Events emitted while there is none are numbered
	// and dropped.
	Sinks map[string]Sink
	// Log receives failures (never a token); nil discards.
	Log *slog.Logger
	// Observer counts mail; nil: not counted.
	Observer Observer
	// PollInterval is how often each queue looks for new jobs when nothing
	// tells it of one (SQLite is polled only); zero: a second.
	PollInterval time.Duration
	// Workers is how many jobs of each queue run at once; zero: 4.
	Workers int
	// JobTimeout bounds one attempt of a job (a mail's send, a delivery);
	// zero: a minute.
	JobTimeout time.Duration
	// Now is the clock that says whether a queued mail's link has expired
	// (the service's); nil: time.Now.
	Now func() time.Time
	// Accounts says whether the account of a queued mail with a link
	// still exists (the store's user.Users); nil: not asked.
	Accounts Accounts
}

// Accounts reads accounts by id; user.ErrNotFound when deleted.
type Accounts interface {
	ByID(ctx context.Context, id uuid.UUID) (user.User, error)
}

// Queue is the job queue over one database, as River's client of the
// store's transaction type (pgx.Tx, *sql.Tx).
type Queue[TTx any] struct {
	client *river.Client[TTx]
	sealer Sealer
	seq    func(ctx context.Context, tx TTx, subject uuid.UUID) (int64, error)
	log    *slog.Logger
	// backlog reads each queue's waiting jobs (stores.go).
	backlog func(ctx context.Context) ([]Backlog, error)
}

// Backlogs returns each queue's waiting jobs and the age of the oldest.
func (q *Queue[TTx]) Backlogs(ctx context.Context) ([]Backlog, error) { return q.backlog(ctx) }

// newQueue builds the Queue on driver; seq numbers events in a
// transaction.
func newQueue[TTx any](driver riverdriver.Driver[TTx], seq func(context.Context, TTx, uuid.UUID) (int64, error), c Config) (*Queue[TTx], error) {
	if c.Mailer == nil || c.Sealer == nil {
		return nil, errors.New("jobs: a mailer and a sealer are required")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &mailWorker{mailer: c.Mailer, sealer: c.Sealer, accounts: c.Accounts, observer: c.Observer, log: c.Log, now: c.Now}); err != nil {
		return nil, err
	}
	fanOut := &fanOutWorker{sinks: slices.Sorted(maps.Keys(c.Sinks))}
	if err := river.AddWorkerSafely(workers, fanOut); err != nil {
		return nil, err
	}
	delivery := &deliveryWorker{sinks: c.Sinks}
	if err := river.AddWorkerSafely(workers, delivery); err != nil {
		return nil, err
	}
	n := c.Workers
	if n <= 0 {
		n = 4
	}
	queues := map[string]river.QueueConfig{}
	for _, q := range Queues {
		queues[q] = river.QueueConfig{MaxWorkers: n}
	}
	poll := c.PollInterval
	if poll <= 0 {
		poll = time.Second
	}
	timeout := cmp.Or(c.JobTimeout, time.Minute)
	client, err := river.NewClient(driver, &river.Config{
		Queues:                      queues,
		Workers:                     workers,
		FetchPollInterval:           poll,
		FetchCooldown:               min(poll, river.FetchCooldownDefault),
		DiscardedJobRetentionPeriod: 30 * 24 * time.Hour,
		Logger:                      c.Log.With("component", "jobs"),
		JobTimeout:                  timeout,
		// A job still running past its timeout ran in a process that died
		// (kill -9, a crash): run it again soon, not after River's default
		// hour, which would outlive a reset link.
		RescueStuckJobsAfter: timeout + time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	fanOut.insert = func(ctx context.Context, params []river.InsertManyParams) error {
		_, err := client.InsertMany(ctx, params)
		return err
	}
	delivery.earlier = earlierOf(client)
	return &Queue[TTx]{client: client, sealer: c.Sealer, seq: seq, log: c.Log}, nil
}

// earlierEvents lists the jobs still to run of the events of e's subject
// numbered before e, for sink: their fan-out, or their delivery to sink;
// at most limit. The expressions read the jobs' JSON arguments the same
// way on PostgreSQL (jsonb) and SQLite (JSON), and migration 00025 indexes
// the subject.
func earlierEvents(sink string, e event.Event, limit int) *river.JobListParams {
	return river.NewJobListParams().
		Queues(QueueEvents).
		States(rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled).
		First(limit).
		Where(`args -> 'event' ->> 'subject' = @subject
			AND CAST(args -> 'event' ->> 'seq' AS BIGINT) < @seq
			AND (kind = @fan_out OR (kind = @delivery AND args ->> 'sink' = @sink))`,
			river.NamedArgs{
				"subject": e.Subject.String(), "seq": e.Seq, "sink": sink,
				"fan_out": EventArgs{}.Kind(), "delivery": DeliveryArgs{}.Kind(),
			})
}

// earlierOf is the deliveries' look (deliveryWorker.earlier) through
// client: the events of jobs listed by earlierEvents, and whether the
// listing was cut at limit.
func earlierOf[TTx any](client *river.Client[TTx]) func(context.Context, string, event.Event, int) ([]event.Event, bool, error) {
	return func(ctx context.Context, sink string, e event.Event, limit int) ([]event.Event, bool, error) {
		res, err := client.JobList(ctx, earlierEvents(sink, e, limit))
		if err != nil {
			return nil, false, fmt.Errorf("jobs: the earlier events of %s: %w", e.Subject, err)
		}
		events, err := eventsOf(res.Jobs)
		return events, len(res.Jobs) == limit, err
	}
}

// eventsOf returns the events of jobs (fan-outs and deliveries, which both
// carry theirs as "event"), each once, in seq order.
func eventsOf(jobs []*rivertype.JobRow) ([]event.Event, error) {
	bySeq := map[int64]event.Event{}
	for _, j := range jobs {
		var args EventArgs
		if err := json.Unmarshal(j.EncodedArgs, &args); err != nil {
			return nil, fmt.Errorf("jobs: job %d: %w", j.ID, err)
		}
		bySeq[args.Event.Seq] = args.Event
	}
	out := make([]event.Event, 0, len(bySeq))
	for _, seq := range slices.Sorted(maps.Keys(bySeq)) {
		out = append(out, bySeq[seq])
	}
	return out, nil
}

// Start starts working the queues; Stop ends it.
func (q *Queue[TTx]) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop lets running jobs finish until ctx ends, then cancels them (they
// run again after the next start: nothing is lost).
func (q *Queue[TTx]) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	cancel, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	return errors.Join(err, q.client.StopAndCancel(cancel))
}

// Outbox returns the user.Outbox of transaction tx: what it takes is
// inserted in tx. For no transaction (the zero TTx, the Stores outside
// Atomic) it refuses, since a job inserted apart from its change could
// outlive a change that rolls back or be lost with one that commits.
func (q *Queue[TTx]) Outbox(tx TTx) user.Outbox { return &outbox[TTx]{q: q, tx: tx} }

// errNoTransaction is an Outbox used outside Transactor.Atomic.
var errNoTransaction = errors.New("jobs: the outbox is used inside a transaction only")

type outbox[TTx any] struct {
	q  *Queue[TTx]
	tx TTx
}

func (o *outbox[TTx]) valid() bool { return any(o.tx) != nil && !isNilPointer(o.tx) }

func (o *outbox[TTx]) Mail(ctx context.Context, m user.Mail) error {
	if !o.valid() {
		return errNoTransaction
	}
	args := MailArgs{MailKind: string(m.Kind), To: m.To, UserID: m.UserID, TTL: m.TTL}
	if m.Token != "" {
		args.SealedToken = o.q.sealer.SealFor([]byte(m.Token), args.purpose())
	}
	_, err := o.q.client.InsertTx(ctx, o.tx, args, nil)
	return unavailable(err)
}

// unavailable is err, from queueing a job in the change's transaction,
// as the stores report a database that cannot answer now (ErrUnavailable:
// the request may succeed if retried), since that is what it is: the
// insert itself is always valid.
func unavailable(err error) error {
	if err == nil || errors.Is(err, user.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: queue a job: %w", user.ErrUnavailable, err)
}

func (o *outbox[TTx]) Emit(ctx context.Context, e event.Event) error {
	if !o.valid() {
		return errNoTransaction
	}
	seq, err := o.q.seq(ctx, o.tx, e.Subject)
	if err != nil {
		return unavailable(fmt.Errorf("number event: %w", err))
	}
	e.Seq = seq
	_, err = o.q.client.InsertTx(ctx, o.tx, EventArgs{Event: e}, nil)
	return unavailable(err)
}

// Jobs returns up to limit jobs in state (one of user.JobStates; "" for
// any), newest first.
func (q *Queue[TTx]) Jobs(ctx context.Context, state string, limit int) ([]user.Job, error) {
	params := river.NewJobListParams().First(limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if state != "" {
		params = params.States(rivertype.JobState(state))
	}
	res, err := q.client.JobList(ctx, params)
	if err != nil {
		return nil, err
	}
	jobs := make([]user.Job, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		jobs = append(jobs, toJob(j))
	}
	return jobs, nil
}

// RetryJob makes the job id run again as soon as possible (a discarded
// one gets its attempts back); user.ErrJobNotFound when there is none,
// user.ErrJobCompleted when it completed (River would run it again: a
// mail sent twice).
func (q *Queue[TTx]) RetryJob(ctx context.Context, id int64) (user.Job, error) {
	j, err := q.client.JobGet(ctx, id)
	if err == nil && j.State == rivertype.JobStateCompleted {
		return user.Job{}, user.ErrJobCompleted
	}
	if err == nil {
		j, err = q.client.JobRetry(ctx, id)
	}
	if errors.Is(err, river.ErrNotFound) {
		return user.Job{}, user.ErrJobNotFound
	}
	if err != nil {
		return user.Job{}, err
	}
	return toJob(j), nil
}

var _ user.JobQueue = (*Queue[any])(nil)

func toJob(j *rivertype.JobRow) user.Job {
	out := user.Job{
		ID: j.ID, Kind: j.Kind, Queue: j.Queue, State: string(j.State), Attempt: j.Attempt,
		MaxAttempts: j.MaxAttempts, CreatedAt: j.CreatedAt, ScheduledAt: j.ScheduledAt,
	}
	if j.FinalizedAt != nil {
		out.FinalizedAt = *j.FinalizedAt
	}
	if n := len(j.Errors); n > 0 {
		out.LastError = j.Errors[n-1].Error
	}
	return out
}
