package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// Errors of Notifier's methods: the message was not queued.
var (
	ErrQueueFull = errors.New("mail outbox is full")
	ErrClosed    = errors.New("mail outbox is closed")
)

// NotifierConfig configures a Notifier. Mailer and the two link templates
// are required; zero values of the rest take the defaults.
type NotifierConfig struct {
	Mailer Mailer
	// VerifyEmailURL, ResetPasswordURL and UndoEmailChangeURL are the
	// links the messages carry: absolute http(s) URLs with
	// TokenPlaceholder where the token goes.
	VerifyEmailURL, ResetPasswordURL, UndoEmailChangeURL string
	// Logger receives delivery failures (never the token or the body).
	Logger *slog.Logger
	// QueueSize is how many messages may wait (default 256); Workers how
	// many are sent at once (default 2).
	QueueSize, Workers int
	// Attempts is how often a message is tried (default 3), waiting
	// Backoff (default 2s), then twice as long, and so on, between tries.
	Attempts int
	Backoff  time.Duration
}

// Notifier implements user.Notifier: it renders the account messages and
// queues them in a bounded in-memory outbox that worker goroutines deliver
// through the Mailer, retrying failures. Requests never wait for a mail
// server, and a password reset takes the same time whether or not mail is
// sent. Messages still queued when the process dies are lost: the user
// asks again.
type Notifier struct {
	c     NotifierConfig
	tmpl  templates
	log   *slog.Logger
	queue chan job

	mu     sync.RWMutex // guards closed against sends on the closed queue
	closed bool

	ctx    context.Context // ends when Close gives up: stops deliveries
	cancel context.CancelFunc
	done   chan struct{} // closed when every worker has returned
}

var _ user.Notifier = (*Notifier)(nil)

// job is a rendered message and what identifies it in logs.
type job struct {
	kind   string
	userID string
	msg    Message
}

// NewNotifier checks c, parses the templates and starts the workers;
// Close stops them.
func NewNotifier(c NotifierConfig) (*Notifier, error) {
	if c.Mailer == nil {
		return nil, errors.New("mail: no mailer")
	}
	if err := CheckLinkTemplate(c.VerifyEmailURL); err != nil {
		return nil, fmt.Errorf("mail: verify-email link: %w", err)
	}
	if err := CheckLinkTemplate(c.ResetPasswordURL); err != nil {
		return nil, fmt.Errorf("mail: password-reset link: %w", err)
	}
	if err := CheckLinkTemplate(c.UndoEmailChangeURL); err != nil {
		return nil, fmt.Errorf("mail: undo-email-change link: %w", err)
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, fmt.Errorf("mail: templates: %w", err)
	}
	c.QueueSize = orDefault(c.QueueSize, 256)
	c.Workers = orDefault(c.Workers, 2)
	c.Attempts = orDefault(c.Attempts, 3)
	c.Backoff = orDefault(c.Backoff, 2*time.Second)
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{
		c: c, tmpl: tmpl, log: log, queue: make(chan job, c.QueueSize),
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	var wg sync.WaitGroup
	for range c.Workers {
		wg.Go(n.work)
	}
	go func() {
		wg.Wait()
		close(n.done)
	}()
	return n, nil
}

// Send renders m and queues it. It never shows a name or any other text a
// user wrote: only the address, the link and its token.
func (n *Notifier) Send(_ context.Context, m user.Mail) error {
	c := content{Email: m.To, ValidFor: validFor(m.TTL)}
	if m.Token != "" {
		tmpl, ok := n.links()[m.Kind]
		if !ok {
			return fmt.Errorf("mail: %s carries no link", m.Kind)
		}
		c.Link, c.Token = Link(tmpl, m.Token), m.Token
	}
	msg, err := n.tmpl.render(string(m.Kind), c)
	if err != nil {
		return err
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return ErrClosed
	}
	select {
	case n.queue <- job{kind: string(m.Kind), userID: m.UserID.String(), msg: msg}:
		return nil
	default:
		return ErrQueueFull
	}
}

// links are the link templates of the messages that carry one.
func (n *Notifier) links() map[user.MailKind]string {
	return map[user.MailKind]string{
		user.MailVerifyEmail:   n.c.VerifyEmailURL,
		user.MailResetPassword: n.c.ResetPasswordURL,
		user.MailEmailChanged:  n.c.UndoEmailChangeURL,
	}
}

// Close stops taking messages and waits until the queued ones are
// delivered (or have used their attempts), or until ctx ends: then it
// abandons what is left, logging how many, and returns ctx's error.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.queue)
	}
	n.mu.Unlock()
	select {
	case <-n.done:
		n.cancel()
		return nil
	case <-ctx.Done():
	}
	n.cancel()
	<-n.done // the workers drop the rest at once now
	return fmt.Errorf("mail outbox: %w", ctx.Err())
}

// work delivers queued messages until the queue is closed and empty.
func (n *Notifier) work() {
	for j := range n.queue {
		if n.ctx.Err() != nil {
			n.log.Warn("mail abandoned at shutdown", "kind", j.kind, "user_id", j.userID)
			continue
		}
		n.deliver(j)
	}
}

// deliver tries j up to the configured attempts with growing pauses.
func (n *Notifier) deliver(j job) {
	wait := n.c.Backoff
	for attempt := 1; ; attempt++ {
		err := n.c.Mailer.Send(n.ctx, j.msg)
		if err == nil {
			return
		}
		if attempt >= n.c.Attempts || errors.Is(err, ErrInvalidMessage) {
			n.log.Error("mail not delivered", "kind", j.kind, "user_id", j.userID, "attempts", attempt, "error", err.Error())
			return
		}
		n.log.Warn("mail delivery failed, will retry", "kind", j.kind, "user_id", j.userID, "attempt", attempt, "retry_in", wait.String(), "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-n.ctx.Done():
			t.Stop()
			n.log.Warn("mail abandoned at shutdown", "kind", j.kind, "user_id", j.userID)
			return
		}
		wait *= 2
	}
}

// orDefault is v, or fallback when v is not positive.
func orDefault[T int | time.Duration](v, fallback T) T {
	if v <= 0 {
		return fallback
	}
	return v
}
