package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/user"
)

// Sealer encrypts secrets at rest; *signing.Sealer is one. ad binds a
// sealed secret to its row.
type Sealer interface {
	Seal(plain, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
}

// Sender sends one signed message; *Client is one.
type Sender interface {
	Send(ctx context.Context, rawURL, id string, at time.Time, body []byte, secrets ...Secret) Result
}

// The audit events of webhook administration and delivery, recorded in
// the service's audit log.
const (
	AuditCreated       user.AuditKind = "webhook.created"
	AuditUpdated       user.AuditKind = "webhook.updated"
	AuditDeleted       user.AuditKind = "webhook.deleted"
	AuditSecretRotated user.AuditKind = "webhook.secret_rotated"
	AuditDisabled      user.AuditKind = "webhook.disabled"
	AuditTestSent      user.AuditKind = "webhook.test_sent"
	AuditReplayed      user.AuditKind = "webhook.replayed"
)

// AuditKinds lists the audit events of this package.
var AuditKinds = []user.AuditKind{
	AuditCreated, AuditUpdated, AuditDeleted, AuditSecretRotated, AuditDisabled, AuditTestSent, AuditReplayed,
}

// Limits of what an endpoint holds.
const (
	MaxURL         = 2048
	MaxDescription = 255
	// RotationOverlap is how long the previous secret keeps signing after
	// a rotation, so that receivers can switch without losing a message.
	RotationOverlap = 24 * time.Hour
	// MaxDeliveriesPage is the most deliveries a listing returns.
	MaxDeliveriesPage = 100
	// claimLease is how long a claimed or just-created delivery is left
	// to its claimer before another may attempt it: longer than a whole
	// attempt.
	claimLease = 2 * time.Minute
	// dueBatch is how many due deliveries one RunDue claims.
	dueBatch = 50
)

// Config tunes a Service.
type Config struct {
	// RetryFor is how long a delivery is retried and how long an endpoint
	// may fail before it is disabled; zero means DefaultRetryFor.
	RetryFor time.Duration
	// RequireHTTPS refuses http:// endpoints (production).
	RequireHTTPS bool
	// AllowPrivate accepts endpoints whose host is a private address
	// literal (the Client refuses connecting to one unless it allows them
	// too).
	AllowPrivate bool
	// Workers is how many deliveries RunDue sends at once; zero means
	// DefaultWorkers.
	Workers int
	// EndpointWorkers is how many of them may send to one endpoint at
	// once while another endpoint's deliveries wait (beyond it, an
	// endpoint takes only the workers no other endpoint needs); zero
	// means half of Workers (at least one).
	EndpointWorkers int
}

// DefaultWorkers is how many deliveries a replica's RunDue sends at once:
// enough to drain a backlog at several hundred a second to a receiver
// answering in milliseconds, few enough that slow receivers (up to the
// 15 s timeout each) hold only that many connections.
const DefaultWorkers = 16

// The default share of the workers one endpoint may have while another's
// deliveries wait (Config.EndpointWorkers): half of them, so that an
// endpoint whose receiver holds its requests open up to the timeout holds
// back the other endpoints' retries for one attempt at most (poller).
const endpointShare = 2

// Deps are a Service's collaborators.
type Deps struct {
	Stores Stores
	Audit  user.AuditLog
	// Sealer seals the endpoints' secrets; when nil, OpenSealer makes it
	// on first need (so that a deployment without webhooks never makes a
	// key for them). With neither, secrets cannot be kept: ErrUnavailable.
	Sealer     Sealer
	OpenSealer func() (Sealer, error)
	Sender     Sender
	// Accounts says whether an event's account still exists (the store's
	// user.Users), so that a replay never sends a deleted account's event
	// after its user.deleted; nil: not asked.
	Accounts Accounts
	Log      *slog.Logger
	Now      func() time.Time // nil: time.Now
	Rand     func() float64   // in [0, 1), for the jitter; nil: math/rand/v2
}

// Accounts reads accounts by id; user.ErrNotFound when deleted.
type Accounts interface {
	ByID(ctx context.Context, id uuid.UUID) (user.User, error)
}

// Service manages endpoints and delivers events to them.
type Service struct {
	endpoints  Endpoints
	deliveries Deliveries
	tx         Transactor // nil: audit events are appended after the change
	audit      user.AuditLog
	sealer     func() (Sealer, error)
	sender     Sender
	accounts   Accounts
	log        *slog.Logger
	now        func() time.Time
	rand       func() float64
	cfg        Config
}

// NewService returns a Service over d.
func NewService(d Deps, cfg Config) *Service {
	if cfg.RetryFor <= 0 {
		cfg.RetryFor = DefaultRetryFor
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.EndpointWorkers <= 0 {
		cfg.EndpointWorkers = max(1, cfg.Workers/endpointShare)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rand == nil {
		d.Rand = rand.Float64
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		endpoints: d.Stores.Endpoints, deliveries: d.Stores.Deliveries, tx: d.Stores.Tx, audit: d.Audit, sealer: sealerOf(d),
		sender: d.Sender, accounts: d.Accounts, log: d.Log, now: d.Now, rand: d.Rand, cfg: cfg,
	}
}

// Operator is the actor of the usersvc CLI: an administrator with no
// account, recorded as uuid.Nil.
var Operator = user.User{Role: user.RoleAdmin, IsActive: true}

// NewEndpoint is what creating an endpoint takes.
type NewEndpoint struct {
	URL         string
	Description string
	Types       []string
	Disabled    bool
}

// EndpointPatch changes an endpoint: nil fields are kept.
type EndpointPatch struct {
	URL         *string
	Description *string
	Types       *[]string
	Enabled     *bool
}

func requireAdmin(actor user.User) error {
	if !actor.IsAdmin() || !actor.IsActive {
		return user.ErrForbidden
	}
	return nil
}

func invalid(field, format string, args ...any) error {
	return &user.ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// validate checks an endpoint's fields, as a creation or an update sets
// them.
func (s *Service) validate(rawURL, description string, types []string) error {
	var errs []error
	if len(rawURL) > MaxURL {
		errs = append(errs, invalid("url", "must be at most %d characters", MaxURL))
	} else if err := CheckURL(rawURL, s.cfg.RequireHTTPS); err != nil {
		errs = append(errs, invalid("url", "%s", err.Error()))
	} else if ip, err := netip.ParseAddr(host(rawURL)); err == nil {
		// A name is checked when connecting (it may resolve anywhere); an
		// address literal can be refused now.
		if err := checkAddr(ip, s.cfg.AllowPrivate); err != nil {
			errs = append(errs, invalid("url", "%s", err.Error()))
		}
	}
	if len(description) > MaxDescription || !user.Readable(description) {
		errs = append(errs, invalid("description", "must be at most %d characters, without control or invisible formatting characters", MaxDescription))
	}
	if len(types) == 0 {
		errs = append(errs, invalid("types", "must name at least one event type, or %q for all", AllTypes))
	}
	for _, t := range types {
		if !validType(t) {
			errs = append(errs, invalid("types", "unknown event type %q", t))
		}
	}
	return errors.Join(errs...)
}

// cleanTypes sorts types and drops repeats.
func cleanTypes(types []string) []string {
	out := slices.Clone(types)
	slices.Sort(out)
	return slices.Compact(out)
}

// SecretAD binds a sealed secret (current or previous) to its endpoint
// (`usersvc keys reseal` seals it again so).
func SecretAD(id uuid.UUID) []byte { return []byte("usersvc webhook secret\x00" + id.String()) }

func secretAD(id uuid.UUID) []byte { return SecretAD(id) }

// Create registers an endpoint and returns it with its signing secret,
// which is never shown again.
func (s *Service) Create(ctx context.Context, actor user.User, in NewEndpoint) (Endpoint, Secret, error) {
	if err := requireAdmin(actor); err != nil {
		return Endpoint{}, "", err
	}
	if err := s.validate(in.URL, in.Description, in.Types); err != nil {
		return Endpoint{}, "", err
	}
	sealer, err := s.sealer()
	if err != nil {
		return Endpoint{}, "", err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	e := Endpoint{
		ID: uuid.Must(uuid.NewV7()), URL: in.URL, Description: in.Description, Types: cleanTypes(in.Types),
		Enabled: !in.Disabled, CreatedAt: now, UpdatedAt: now,
	}
	secret := NewSecret()
	e.Secret = sealer.Seal([]byte(secret), secretAD(e.ID))
	err = s.change(ctx, AuditCreated, actor, e, nil, func(eps Endpoints) error { return eps.CreateEndpoint(ctx, e) })
	if err != nil {
		return Endpoint{}, "", err
	}
	return e, secret, nil
}

// sealerOf is how a Service gets its Sealer: d.Sealer, else d.OpenSealer
// once, on first need; ErrUnavailable when d has neither.
func sealerOf(d Deps) func() (Sealer, error) {
	switch {
	case d.Sealer != nil:
		return func() (Sealer, error) { return d.Sealer, nil }
	case d.OpenSealer != nil:
		return sync.OnceValues(d.OpenSealer)
	}
	return func() (Sealer, error) { return nil, ErrUnavailable }
}

// List returns every endpoint, oldest first.
func (s *Service) List(ctx context.Context, actor user.User) ([]Endpoint, error) {
	if err := requireAdmin(actor); err != nil {
		return nil, err
	}
	return s.endpoints.ListEndpoints(ctx)
}

// Get returns the endpoint id.
func (s *Service) Get(ctx context.Context, actor user.User, id uuid.UUID) (Endpoint, error) {
	if err := requireAdmin(actor); err != nil {
		return Endpoint{}, err
	}
	return s.endpoints.Endpoint(ctx, id)
}

// Update changes the endpoint id as p says. Enabling an endpoint forgets
// its failures: it gets a whole retry window again.
func (s *Service) Update(ctx context.Context, actor user.User, id uuid.UUID, p EndpointPatch) (Endpoint, error) {
	if err := requireAdmin(actor); err != nil {
		return Endpoint{}, err
	}
	return s.edit(ctx, AuditUpdated, actor, id, func(e *Endpoint) (map[string]string, error) {
		changed := p.apply(e)
		if err := s.validate(e.URL, e.Description, e.Types); err != nil {
			return nil, err
		}
		return map[string]string{"fields": joinFields(changed)}, nil
	})
}

// apply makes p's changes to e, and names the fields it set.
func (p EndpointPatch) apply(e *Endpoint) []string {
	var changed []string
	if p.URL != nil {
		e.URL, changed = *p.URL, append(changed, "url")
	}
	if p.Description != nil {
		e.Description, changed = *p.Description, append(changed, "description")
	}
	if p.Types != nil {
		e.Types, changed = cleanTypes(*p.Types), append(changed, "types")
	}
	if p.Enabled != nil {
		if *p.Enabled && !e.Enabled {
			e.FailingSince = time.Time{}
		}
		e.Enabled, changed = *p.Enabled, append(changed, "enabled")
	}
	return changed
}

// editAttempts bounds how often edit reads and changes an endpoint again
// when other changes keep coming between its read and its write.
const editAttempts = 5

// edit reads the endpoint id, lets change change it (and say the audit
// event's detail), and saves it with its audit event of kind, fenced with
// the UpdatedAt it read: when another change (a rotation, a disabling)
// came between, it reads and changes again, so that it never writes back
// what that change replaced.
func (s *Service) edit(ctx context.Context, kind user.AuditKind, actor user.User, id uuid.UUID, change func(*Endpoint) (map[string]string, error)) (Endpoint, error) {
	for n := 1; ; n++ {
		e, err := s.endpoints.Endpoint(ctx, id)
		if err != nil {
			return Endpoint{}, err
		}
		was := e.UpdatedAt
		detail, err := change(&e)
		if err != nil {
			return Endpoint{}, err
		}
		e.UpdatedAt = after(s.now().UTC().Truncate(time.Microsecond), was)
		err = s.change(ctx, kind, actor, e, detail, func(eps Endpoints) error { return eps.SaveEndpoint(ctx, e, was) })
		if errors.Is(err, ErrEndpointChanged) && n < editAttempts {
			continue
		}
		if err != nil {
			return Endpoint{}, err
		}
		return e, nil
	}
}

// after is now, or just after was if now is not later: each change of an
// endpoint moves its UpdatedAt on, which is what SaveEndpoint's fence
// compares.
func after(now, was time.Time) time.Time {
	if now.After(was) {
		return now
	}
	return was.Add(time.Microsecond)
}

func joinFields(f []string) string { return strings.Join(f, ",") }

// Delete removes the endpoint id and its deliveries.
func (s *Service) Delete(ctx context.Context, actor user.User, id uuid.UUID) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	e, err := s.endpoints.Endpoint(ctx, id)
	if err != nil {
		return err
	}
	return s.change(ctx, AuditDeleted, actor, e, nil, func(eps Endpoints) error { return eps.DeleteEndpoint(ctx, id) })
}

// RotateSecret gives the endpoint id a new secret, returned once; the
// current one keeps signing beside it for RotationOverlap. A secret older
// than the current one stops signing at once.
func (s *Service) RotateSecret(ctx context.Context, actor user.User, id uuid.UUID) (Endpoint, Secret, error) {
	if err := requireAdmin(actor); err != nil {
		return Endpoint{}, "", err
	}
	sealer, err := s.sealer()
	if err != nil {
		return Endpoint{}, "", err
	}
	secret := NewSecret()
	e, err := s.edit(ctx, AuditSecretRotated, actor, id, func(e *Endpoint) (map[string]string, error) {
		e.PreviousSecret, e.PreviousUntil = e.Secret, s.now().UTC().Truncate(time.Microsecond).Add(RotationOverlap)
		e.Secret = sealer.Seal([]byte(secret), secretAD(e.ID))
		return nil, nil
	})
	if err != nil {
		return Endpoint{}, "", err
	}
	return e, secret, nil
}

// secrets opens the secrets that sign for e at now: the current one, and
// the previous one during its overlap.
func (s *Service) secrets(e Endpoint, now time.Time) ([]Secret, error) {
	sealer, err := s.sealer()
	if err != nil {
		return nil, err
	}
	sealed := [][]byte{e.Secret}
	if e.PreviousSecret != nil && now.Before(e.PreviousUntil) {
		sealed = append(sealed, e.PreviousSecret)
	}
	out := make([]Secret, 0, len(sealed))
	for _, b := range sealed {
		plain, err := sealer.Open(b, secretAD(e.ID))
		if err != nil {
			return nil, fmt.Errorf("webhook endpoint %s: secret: %w", e.ID, err)
		}
		out = append(out, Secret(plain))
	}
	return out, nil
}

// DeliveryRecord is a delivery with its attempts.
type DeliveryRecord struct {
	Delivery
	Attempts []Attempt
}

// Deliveries lists the newest deliveries of the endpoint id with their
// attempts, at most limit (cut to 1..MaxDeliveriesPage).
func (s *Service) Deliveries(ctx context.Context, actor user.User, id uuid.UUID, limit int) ([]DeliveryRecord, error) {
	if err := requireAdmin(actor); err != nil {
		return nil, err
	}
	if _, err := s.endpoints.Endpoint(ctx, id); err != nil {
		return nil, err
	}
	limit = min(max(limit, 1), MaxDeliveriesPage)
	ds, err := s.deliveries.ListDeliveries(ctx, id, limit)
	if err != nil {
		return nil, err
	}
	out := make([]DeliveryRecord, len(ds))
	for i, d := range ds {
		if out[i], err = s.withAttempts(ctx, d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Service) withAttempts(ctx context.Context, d Delivery) (DeliveryRecord, error) {
	as, err := s.deliveries.Attempts(ctx, d.ID)
	return DeliveryRecord{Delivery: d, Attempts: as}, err
}

// SendTest sends the endpoint id an event of TestType now, once (a test
// is not retried, and its failure does not count against the endpoint),
// also when the endpoint is disabled, and returns the delivery.
func (s *Service) SendTest(ctx context.Context, actor user.User, id uuid.UUID) (DeliveryRecord, error) {
	if err := requireAdmin(actor); err != nil {
		return DeliveryRecord{}, err
	}
	e, err := s.endpoints.Endpoint(ctx, id)
	if err != nil {
		return DeliveryRecord{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	ev := Event{
		ID: "test_" + uuid.NewString(), Type: TestType, Time: now,
		Data: json.RawMessage(`{"message":"a test event from usersvc"}`),
	}
	body, err := payload(ev)
	if err != nil {
		return DeliveryRecord{}, err
	}
	d := Delivery{
		ID: uuid.Must(uuid.NewV7()), EndpointID: e.ID, EventID: ev.ID, EventType: ev.Type, Payload: body,
		State: Pending, NextAt: now.Add(claimLease), CreatedAt: now, UpdatedAt: now,
	}
	if _, err := s.deliveries.CreateDeliveries(ctx, []Delivery{d}); err != nil {
		return DeliveryRecord{}, err
	}
	s.record(ctx, AuditTestSent, actor, e, nil)
	if _, err := s.attempt(ctx, d, e); err != nil {
		return DeliveryRecord{}, err
	}
	return s.readRecord(ctx, d.ID)
}

// readRecord reads the delivery id back with its attempts.
func (s *Service) readRecord(ctx context.Context, id uuid.UUID) (DeliveryRecord, error) {
	d, err := s.deliveries.Delivery(ctx, id)
	if err != nil {
		return DeliveryRecord{}, err
	}
	return s.withAttempts(ctx, d)
}

// Replay sends the delivery id of the endpoint again now, whatever its
// state, and returns it with the new attempt. If that attempt fails, the
// delivery is retried as long as its retry window (from its creation)
// lasts. The endpoint must be enabled, and the delivery not being
// attempted right now (ErrDeliveryInProgress): Replay claims it first, as
// RunDue does, so that it is never sent by two at once.
func (s *Service) Replay(ctx context.Context, actor user.User, endpoint, id uuid.UUID) (DeliveryRecord, error) {
	if err := requireAdmin(actor); err != nil {
		return DeliveryRecord{}, err
	}
	d, err := s.deliveries.Delivery(ctx, id)
	if err != nil {
		return DeliveryRecord{}, err
	}
	if d.EndpointID != endpoint {
		return DeliveryRecord{}, ErrDeliveryNotFound
	}
	e, err := s.endpoints.Endpoint(ctx, d.EndpointID)
	if err != nil {
		return DeliveryRecord{}, err
	}
	if !e.Enabled {
		return DeliveryRecord{}, ErrEndpointDisabled
	}
	if err := s.replayable(ctx, d); err != nil {
		return DeliveryRecord{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	if d.claimed(now) {
		return DeliveryRecord{}, ErrDeliveryInProgress
	}
	was := d.Fence()
	d.State, d.NextAt, d.Held, d.UpdatedAt = Pending, now.Add(claimLease), false, now
	if err := s.deliveries.SaveDelivery(ctx, d, was, nil); errors.Is(err, ErrClaimLost) {
		return DeliveryRecord{}, ErrDeliveryInProgress // claimed since it was read
	} else if err != nil {
		return DeliveryRecord{}, err
	}
	s.record(ctx, AuditReplayed, actor, e, map[string]string{"delivery": d.ID.String(), "event": d.EventID})
	if _, err := s.attemptAs(ctx, d, e, false); err != nil { // an explicit replay goes now
		return DeliveryRecord{}, err
	}
	return s.readRecord(ctx, d.ID)
}

// replayable is ErrAccountDeleted when d is an event of a deleted
// account other than its user.deleted: the receiver got user.deleted
// after it (or will: the retries go in Seq order), purged the account,
// and a replay, going at once, would give it back.
func (s *Service) replayable(ctx context.Context, d Delivery) error {
	if s.accounts == nil || d.Subject == uuid.Nil || d.EventType == event.UserDeleted {
		return nil
	}
	_, err := s.accounts.ByID(ctx, d.Subject)
	if errors.Is(err, user.ErrNotFound) {
		return ErrAccountDeleted
	}
	return err
}

// Deliver fans ev out to every enabled endpoint subscribed to its type:
// it records one delivery per endpoint (none again for an event handed
// over twice) and makes each delivery's first attempt now. A failed
// attempt is not an error: the delivery is retried (RunDue, or Attempt
// from a job queue). The error is the storage's.
func (s *Service) Deliver(ctx context.Context, ev Event) error {
	ds, err := s.Enqueue(ctx, ev)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range ds {
		// d as created, under its creation's claim: if another claimer
		// took it meanwhile, the attempt leaves it to that one.
		if _, err := s.attemptNew(ctx, d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Enqueue records ev's deliveries, as Deliver does, without attempting
// them: each is left to its creator for claimLease (so that Deliver's
// immediate attempt is the only one), then due for RunDue or Attempt.
func (s *Service) Enqueue(ctx context.Context, ev Event) ([]Delivery, error) {
	eps, err := s.endpoints.ListEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	body, err := payload(ev)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var ds []Delivery
	for _, e := range eps {
		if !e.Enabled || !e.subscribes(ev.Type) {
			continue
		}
		ds = append(ds, Delivery{
			ID: uuid.Must(uuid.NewV7()), EndpointID: e.ID, EventID: ev.ID, EventType: ev.Type, Payload: body,
			Subject: ev.Subject, Seq: ev.Seq,
			State: Pending, NextAt: now.Add(claimLease), CreatedAt: now, UpdatedAt: now,
		})
	}
	if len(ds) == 0 {
		return nil, nil
	}
	return s.deliveries.CreateDeliveries(ctx, ds)
}

// Attempt makes one attempt at the delivery id, if it is still pending,
// and returns it as it stands after: Succeeded, Pending with the NextAt of
// its retry, or Failed (retries ran out, or the endpoint is disabled). A
// job queue's worker calls it and, while the delivery is Pending, runs it
// again at NextAt. The error is the storage's, never the receiver's;
// ErrDeliveryNotFound or ErrEndpointNotFound mean the endpoint was
// deleted, and there is nothing left to do.
func (s *Service) Attempt(ctx context.Context, id uuid.UUID) (Delivery, error) {
	d, err := s.deliveries.Delivery(ctx, id)
	if err != nil {
		return Delivery{}, err
	}
	if d.State != Pending {
		return d, nil
	}
	return s.attemptNew(ctx, d)
}

// attemptNew attempts d, pending, as its caller read or created it.
func (s *Service) attemptNew(ctx context.Context, d Delivery) (Delivery, error) {
	e, err := s.endpoints.Endpoint(ctx, d.EndpointID)
	if err != nil {
		return Delivery{}, err
	}
	return s.attempt(ctx, d, e)
}

// RunDue attempts the deliveries due now, up to Config.Workers at once,
// until none is due, and says how many it attempted. Several replicas may
// run it at once: ClaimDue hands each delivery to one of them. After an
// error it claims nothing more, waits for the attempts under way and
// returns them all.
func (s *Service) RunDue(ctx context.Context) (int, error) {
	p := s.newPoller()
	defer p.wait()
	n := 0
	var failed []error
	for {
		if len(failed) == 0 && ctx.Err() == nil {
			if err := p.fill(ctx); err != nil {
				failed = append(failed, err)
			} else {
				p.start(ctx)
			}
		}
		if p.busy == 0 {
			if err := errors.Join(failed...); err != nil {
				return n, err
			}
			return n, ctx.Err()
		}
		if err := p.next(); err != nil {
			failed = append(failed, err)
		} else {
			n++
		}
	}
}

// endpointsOf reads the endpoints of ds once each; a deleted one is
// missing from the map.
func (s *Service) endpointsOf(ctx context.Context, ds []Delivery) (map[uuid.UUID]Endpoint, error) {
	out := map[uuid.UUID]Endpoint{}
	for _, d := range ds {
		if _, ok := out[d.EndpointID]; ok {
			continue
		}
		e, err := s.endpoints.Endpoint(ctx, d.EndpointID)
		if errors.Is(err, ErrEndpointNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[d.EndpointID] = e
	}
	return out, nil
}

// Run claims the deliveries due at every tick and whenever an attempt
// ends, and attempts them as RunDue does, until ctx ends; then it waits
// for the attempts under way. It reports storage errors to onError.
func (s *Service) Run(ctx context.Context, ticks <-chan time.Time, onError func(error)) {
	p := s.newPoller()
	defer p.wait()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			err = errors.Join(p.fill(ctx), p.fillOthers(ctx))
		case a := <-p.done:
			err = errors.Join(p.ended(a), p.fill(ctx))
		}
		if err != nil && ctx.Err() == nil {
			onError(err)
		}
		p.start(ctx)
	}
}

// orderingGap is how long after the delivery holding it back a delivery
// of the same user is due.
const orderingGap = time.Millisecond

// attempt sends d to e once and records the outcome. In order, it first
// waits (stays pending) while an earlier event of the same user to e is
// pending, so that a receiver gets each user's events in Seq order.
func (s *Service) attempt(ctx context.Context, d Delivery, e Endpoint) (Delivery, error) {
	return s.attemptAs(ctx, d, e, true)
}

func (s *Service) attemptAs(ctx context.Context, d Delivery, e Endpoint, ordered bool) (Delivery, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	test := d.EventType == TestType
	if !e.Enabled && !test {
		return s.endDisabled(ctx, d, now)
	}
	if ordered && d.Subject != uuid.Nil {
		held, err := s.hold(ctx, &d, now)
		if err != nil || held {
			return d, err
		}
	}
	secrets, err := s.secrets(e, now)
	if err != nil {
		return Delivery{}, err
	}
	kept, err := s.keepClaim(ctx, d, now)
	if errors.Is(err, ErrClaimLost) {
		s.lostClaim(ctx, d)
		return d, nil
	}
	if err != nil {
		return Delivery{}, err
	}
	d, claim := kept, kept.Fence()
	res := s.sender.Send(ctx, e.URL, d.EventID, now, d.Payload, secrets...)
	d, a, after := s.outcome(d, res, now, test)
	saved, err := s.saveAttempt(ctx, d, claim, a)
	if !saved || test {
		return d, err
	}
	return d, errors.Join(err, s.wake(ctx, d, after), s.track(ctx, e, res.OK(), after))
}

// endDisabled fails d, whose endpoint is disabled, without sending it.
func (s *Service) endDisabled(ctx context.Context, d Delivery, now time.Time) (Delivery, error) {
	claim := d.Fence()
	d.State, d.NextAt, d.Held, d.UpdatedAt = Failed, time.Time{}, false, now
	if err := s.deliveries.SaveDelivery(ctx, d, claim, nil); errors.Is(err, ErrClaimLost) {
		s.lostClaim(ctx, d)
		return d, nil
	} else if err != nil {
		return Delivery{}, err
	}
	return d, s.wake(ctx, d, now)
}

// outcome is d after the attempt made at now with the result res, that
// attempt's record, and when the outcome was reached.
func (s *Service) outcome(d Delivery, res Result, now time.Time, test bool) (Delivery, *Attempt, time.Time) {
	d.Attempts++
	a := &Attempt{
		DeliveryID: d.ID, N: d.Attempts, At: now, Status: res.Status, Error: res.Err,
		Duration: res.Duration.Round(time.Microsecond),
	}
	if !res.OK() && a.Error == "" {
		a.Error = "status " + fmt.Sprint(res.Status)
	}
	after := s.now().UTC().Truncate(time.Microsecond)
	d.UpdatedAt, d.Held = after, false
	switch {
	case res.OK():
		d.State, d.NextAt = Succeeded, time.Time{}
	case test || !after.Before(d.CreatedAt.Add(s.cfg.RetryFor)):
		d.State, d.NextAt = Failed, time.Time{}
	default:
		next, last := after.Add(backoff(d.Attempts, s.rand())), d.CreatedAt.Add(s.cfg.RetryFor)
		if next.After(last) {
			next = last // one last attempt at the end of the window
		}
		if next.Sub(after) == claimLease {
			next = next.Add(time.Microsecond) // a wait never looks like a claim (Delivery.claimed)
		}
		d.State, d.NextAt = Pending, next
	}
	return d, a, after
}

// hold keeps d pending, and says so, while an earlier delivery of the
// same user to the endpoint is pending: d is due just after it, and its
// end wakes d. The earlier one may end (and wake nothing, d not being held
// yet) between the look and the save; so hold looks again after saving,
// and if it has ended d is due now, for the next RunDue, rather than held
// until the earlier one's claim would have lapsed. Both saves are fenced
// with d's claim: if it was lost (another claimer, or Wake) d is left as
// it now is, and not sent.
func (s *Service) hold(ctx context.Context, d *Delivery, now time.Time) (bool, error) {
	before, err := s.deliveries.PendingBefore(ctx, d.EndpointID, d.Subject, d.Seq)
	if err != nil || before.IsZero() {
		return false, err
	}
	next := before.Add(orderingGap)
	if !next.After(now) {
		next = now.Add(orderingGap) // the earlier one is due: it goes first
	}
	claim := d.Fence()
	d.NextAt, d.Held, d.UpdatedAt = next, true, now
	if err := s.deliveries.SaveDelivery(ctx, *d, claim, nil); err != nil {
		return true, ignoreLost(err)
	}
	again, err := s.deliveries.PendingBefore(ctx, d.EndpointID, d.Subject, d.Seq)
	if err != nil || !again.IsZero() {
		return true, err
	}
	claim = d.Fence()
	d.NextAt, d.Held = now, false
	return true, ignoreLost(s.deliveries.SaveDelivery(ctx, *d, claim, nil))
}

// ignoreLost is err, but nil for ErrClaimLost.
func ignoreLost(err error) error {
	if errors.Is(err, ErrClaimLost) {
		return nil
	}
	return err
}

// wake lets the user's later deliveries to the endpoint go now that d,
// which held them back, is done.
func (s *Service) wake(ctx context.Context, d Delivery, now time.Time) error {
	if d.State == Pending || d.Subject == uuid.Nil {
		return nil
	}
	return s.deliveries.Wake(ctx, d.EndpointID, d.Subject, d.Seq, now)
}

// track notes the endpoint's success or failure at now, and disables it
// (and records it) once it has failed for the whole retry window.
func (s *Service) track(ctx context.Context, e Endpoint, ok bool, now time.Time) error {
	if ok {
		// Whatever e says: it may have been read before another attempt
		// failed (a batch runs its attempts at once).
		return s.endpoints.ClearFailing(ctx, e.ID)
	}
	e, err := s.endpoints.SetFailing(ctx, e.ID, now)
	if err != nil || !e.Enabled || now.Sub(e.FailingSince) < s.cfg.RetryFor {
		return err
	}
	// Only the flag: an administrator's change (a new secret) committed
	// since e was read stays, and of replicas failing at once one records.
	if off, err := s.endpoints.Disable(ctx, e.ID, e.FailingSince, now); !off || err != nil {
		return err
	}
	e.Enabled, e.UpdatedAt = false, now
	s.log.WarnContext(ctx, "webhook endpoint disabled: failing for the whole retry window",
		"endpoint", e.ID.String(), "failing_since", e.FailingSince.Format(time.RFC3339))
	s.record(ctx, AuditDisabled, user.User{}, e, map[string]string{"failing_since": e.FailingSince.Format(time.RFC3339)})
	return nil
}

// change makes write, an administrator's change of the endpoint e, and
// records its audit event of kind by actor. With a Transactor (both
// databases) both go in one transaction: a change whose event cannot be
// stored is not made, and its error is returned. Without one the event is
// appended after the change, as record does.
func (s *Service) change(ctx context.Context, kind user.AuditKind, actor user.User, e Endpoint, detail map[string]string, write func(Endpoints) error) error {
	if s.tx == nil || s.audit == nil {
		if err := write(s.endpoints); err != nil {
			return err
		}
		s.record(ctx, kind, actor, e, detail)
		return nil
	}
	ev := s.auditEvent(ctx, kind, actor, e, detail)
	return s.tx.Atomic(ctx, func(eps Endpoints, audit user.AuditLog) error {
		if err := write(eps); err != nil {
			return err
		}
		if err := audit.Append(ctx, ev); err != nil {
			return fmt.Errorf("record %s: %w", kind, err)
		}
		return nil
	})
}

// record appends an audit event of kind by actor about endpoint e, after
// the fact; one that cannot be stored is logged. For what is not an
// administrator's change of an endpoint (see change): a test event sent,
// a replay, an endpoint disabled by its failures.
func (s *Service) record(ctx context.Context, kind user.AuditKind, actor user.User, e Endpoint, detail map[string]string) {
	if s.audit == nil {
		return
	}
	if err := s.audit.Append(ctx, s.auditEvent(ctx, kind, actor, e, detail)); err != nil {
		s.log.ErrorContext(ctx, "audit event lost: could not append it", "kind", string(kind), "error", err.Error())
	}
}

// auditEvent is the audit event of kind by actor about endpoint e.
func (s *Service) auditEvent(ctx context.Context, kind user.AuditKind, actor user.User, e Endpoint, detail map[string]string) user.AuditEvent {
	if detail == nil {
		detail = map[string]string{}
	}
	detail["endpoint"] = e.ID.String()
	detail["host"] = host(e.URL) // never the whole URL: its path or query may hold a token
	c := user.ClientFrom(ctx)
	return user.AuditEvent{
		At: s.now(), Kind: kind, ActorID: actor.ID, IP: c.IP, UserAgent: c.UserAgent, RequestID: c.RequestID,
		Detail: detail,
	}
}

// host is the host of rawURL, "" when it has none.
func host(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
