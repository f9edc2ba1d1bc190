package webhook

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Endpoint is a registered receiver of events.
type Endpoint struct {
	ID          uuid.UUID
	URL         string
	Description string
	// Types are the event types it receives; AllTypes means every one.
	Types []string
	// Secret is the signing secret sealed with the key-encryption key,
	// never plaintext; PreviousSecret (sealed, nil when none) still signs
	// until PreviousUntil, after a rotation.
	Secret         []byte
	PreviousSecret []byte
	PreviousUntil  time.Time
	Enabled        bool
	// FailingSince is when deliveries to it began failing without a
	// success since; zero when the last one succeeded.
	FailingSince time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// subscribes reports whether e receives events of type t.
func (e Endpoint) subscribes(t string) bool {
	for _, s := range e.Types {
		if s == t || s == AllTypes {
			return true
		}
	}
	return false
}

// Delivery states.
const (
	Pending   = "pending"   // waiting for its next attempt
	Succeeded = "succeeded" // a 2xx came back
	Failed    = "failed"    // given up: retries ran out, or the endpoint is gone or disabled
)

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID         uuid.UUID // UUIDv7: listings order by it
	EndpointID uuid.UUID
	EventID    string // the webhook-id: one delivery per endpoint and event
	EventType  string
	// Subject and Seq are the event's user and per-user sequence number:
	// a user's deliveries to one endpoint go in Seq order. uuid.Nil (a
	// test event) is not ordered.
	Subject  uuid.UUID
	Seq      int64
	Payload  []byte // the body sent, the same at every attempt
	State    string
	Attempts int       // how many attempts were made
	NextAt   time.Time // when the next attempt is due; zero unless Pending
	// Held says a pending delivery waits for an earlier one of its user
	// (see Subject): Wake makes it due when that one is done. A claimed
	// delivery is never held, so that Wake cannot hand it to a second
	// claimer while it is being sent.
	Held      bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Fence is a delivery's State and NextAt as its claimer read or last
// saved them. While the delivery is pending, NextAt is its claim: whoever
// changes it (a claim, a renewal, a save) takes the delivery, and a save
// fenced with the old value then changes nothing.
type Fence struct {
	State  string
	NextAt time.Time // zero unless State is Pending
}

// Fence is d's fence as it stands.
func (d Delivery) Fence() Fence {
	if d.State != Pending {
		return Fence{State: d.State}
	}
	return Fence{State: d.State, NextAt: d.NextAt}
}

// Attempt is one try at sending a delivery.
type Attempt struct {
	DeliveryID uuid.UUID
	N          int // 1 for the first attempt
	At         time.Time
	Status     int    // HTTP status, 0 when none came
	Error      string // "" when it succeeded
	Duration   time.Duration
}

// Endpoints stores endpoints. Every method returns ErrEndpointNotFound for
// an id that is not stored.
type Endpoints interface {
	// CreateEndpoint stores e.
	CreateEndpoint(ctx context.Context, e Endpoint) error
	// Endpoint returns the endpoint id.
	Endpoint(ctx context.Context, id uuid.UUID) (Endpoint, error)
	// ListEndpoints returns every endpoint, oldest first.
	ListEndpoints(ctx context.Context) ([]Endpoint, error)
	// SaveEndpoint replaces the stored endpoint e.ID by e (all but
	// CreatedAt) while its UpdatedAt is still was, as its writer read it;
	// ErrEndpointChanged (and nothing saved) when another change came
	// between, so that no change writes back what another just replaced
	// (a rotated secret).
	SaveEndpoint(ctx context.Context, e Endpoint, was time.Time) error
	// DeleteEndpoint removes the endpoint id and its deliveries.
	DeleteEndpoint(ctx context.Context, id uuid.UUID) error
	// SetFailing sets the endpoint's FailingSince to since, when it is
	// zero (the first failure), or to zero when since is zero (a success),
	// and returns the endpoint as stored after.
	SetFailing(ctx context.Context, id uuid.UUID, since time.Time) (Endpoint, error)
	// Disable turns the endpoint off at at, changing nothing else, only
	// while it is enabled and failing since failingSince: it says whether
	// it did. An unknown id, an endpoint turned off already (by another
	// replica) or one whose failures were cleared or re-counted meanwhile
	// (an administrator's change, a success) is false, not an error.
	Disable(ctx context.Context, id uuid.UUID, failingSince, at time.Time) (bool, error)
	// ClearFailing sets the endpoint's FailingSince to zero (a success),
	// writing nothing when it is zero already, the usual case. An unknown
	// id is not an error.
	ClearFailing(ctx context.Context, id uuid.UUID) error
}

// ClaimLimits bounds what one ClaimDue takes: at most Max deliveries,
// none of the endpoints in Except.
type ClaimLimits struct {
	Max    int
	Except []uuid.UUID
}

// Deliveries stores deliveries and their attempts. Methods taking an id
// return ErrDeliveryNotFound when it is not stored.
type Deliveries interface {
	// CreateDeliveries stores ds, skipping any whose endpoint already has
	// a delivery of the same event (an event handed over twice is sent
	// once), and returns those it stored.
	CreateDeliveries(ctx context.Context, ds []Delivery) ([]Delivery, error)
	// Delivery returns the delivery id.
	Delivery(ctx context.Context, id uuid.UUID) (Delivery, error)
	// ListDeliveries returns the newest deliveries of endpoint, at most
	// limit, newest first.
	ListDeliveries(ctx context.Context, endpoint uuid.UUID, limit int) ([]Delivery, error)
	// Attempts returns the attempts of delivery id, first first.
	Attempts(ctx context.Context, id uuid.UUID) ([]Attempt, error)
	// SaveDelivery stores d's State, Attempts, NextAt, Held and UpdatedAt and,
	// when a is not nil, the attempt a, together, only while the stored
	// delivery's State and NextAt are still f's (its claim); otherwise it
	// stores nothing and returns ErrClaimLost. A zero f (no State) saves
	// whatever the stored delivery is.
	SaveDelivery(ctx context.Context, d Delivery, f Fence, a *Attempt) error
	// PendingBefore returns the latest NextAt of the pending deliveries to
	// endpoint about subject with a Seq below seq: zero when there is
	// none, and d may be sent.
	PendingBefore(ctx context.Context, endpoint, subject uuid.UUID, seq int64) (time.Time, error)
	// Wake makes the held deliveries to endpoint about subject with a Seq
	// above seq due at now (if they were due later) and no longer held:
	// the delivery that held them back is done.
	Wake(ctx context.Context, endpoint, subject uuid.UUID, seq int64, now time.Time) error
	// ClaimDue returns pending deliveries due at now within limits, oldest
	// due first, and moves their NextAt to now+lease, their UpdatedAt to
	// now (and clears Held), so that no other claimer (another replica)
	// takes them meanwhile, and a claim can be told from a retry's wait
	// (Delivery.claimed).
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limits ClaimLimits) ([]Delivery, error)
	// PurgeFinished removes up to limit deliveries that are no longer
	// pending (succeeded or failed) and were last changed before before,
	// with their attempts, in one short transaction, and says how many of
	// each went: retention calls it until fewer than limit go. Pending
	// deliveries stay, however old.
	PurgeFinished(ctx context.Context, before time.Time, limit int) (deliveries, attempts int64, err error)
	// CountFinished is how many deliveries PurgeFinished would remove
	// before before, all batches together: what a dry run prints.
	CountFinished(ctx context.Context, before time.Time) (int64, error)
}

// Transactor runs a change of endpoints and its audit event in one
// transaction.
type Transactor interface {
	// Atomic runs fn with Endpoints and an audit log bound to one
	// transaction: what fn changes through them is committed together
	// when fn returns nil, and none of it when fn returns an error (which
	// Atomic returns).
	Atomic(ctx context.Context, fn func(Endpoints, user.AuditLog) error) error
}

// Stores are the ports of one database.
type Stores struct {
	Endpoints  Endpoints
	Deliveries Deliveries
	// Tx puts an administrator's change of an endpoint and its audit
	// event in one transaction; nil (a store without transactions), the
	// event is appended after the change.
	Tx Transactor
}
