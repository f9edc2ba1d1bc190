package webhook

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
)

// MaxPerEndpoint is how many attempts a Dispatcher sends to one endpoint
// at once, and MaxWaitingPerEndpoint how many more first attempts wait
// their turn in its memory: a receiver that holds its requests open (up
// to the client's timeout each) takes no more of the Dispatcher than
// that, and its deliveries beyond are left to the retries.
//
// RetryRoom is how many deliveries an endpoint's lane may hold, under way
// or waiting, and still take a claimed retry. The poller claims none for
// a lane with no idle worker, and gives back what a claim took beyond
// RetryRoom: what a lane has no room for stays due in the database, for a
// later claim (by this replica or another). At MaxPerEndpoint at once and
// DefaultTimeout each, a retry a lane takes starts within 4 rounds of 15 s,
// half its claim's lease: its claim never lapses while it waits.
const (
	MaxPerEndpoint        = 4
	MaxWaitingPerEndpoint = 256
	RetryRoom             = 16
)

// Dispatcher sends deliveries in the background, each endpoint's in its
// own lane, in the order handed over, so that a slow receiver holds
// neither the other endpoints nor whoever hands them over. It is the job
// queue's sink of the webhooks (jobs.Sink): its Deliver records an
// event's deliveries and returns, their first attempts going on in its
// lanes (nor does a slow receiver hold the job queue's workers, which the
// other sinks share). Its Run, the retry poller, claims due retries into
// the same lanes.
//
// A delivery is stored before Deliver returns: if the process dies before
// its attempt ends, the poller attempts it once its creation's claim
// lapses. One its endpoint's lane has no room for is left due at once,
// for the poller.
type Dispatcher struct {
	s   *Service
	ctx context.Context // the attempts' lifetime: the service's, not a job's

	mu     sync.Mutex
	lanes  map[uuid.UUID]*lane
	flying sync.WaitGroup
	// full are the endpoints the poller last skipped for want of an idle
	// worker; once one has one, room wakes the poller to claim again.
	full map[uuid.UUID]bool
	room chan struct{}
}

// lane is one endpoint's deliveries waiting for their attempt, and how
// many workers it has (each attempting one of its deliveries, or about
// to take the next).
type lane struct {
	waiting []job
	running int
}

// load is how many deliveries l holds, under way or waiting.
func (l *lane) load() int { return len(l.waiting) + l.running }

// job is a delivery to attempt, and what to tell of its attempt's storage
// error (nil when there was none).
type job struct {
	d    Delivery
	done func(error)
}

// Dispatcher returns s's sink for a job queue and retry poller; its
// background attempts run under ctx, which ends them (Wait waits for them
// to end).
func (s *Service) Dispatcher(ctx context.Context) *Dispatcher {
	return &Dispatcher{s: s, ctx: ctx, lanes: map[uuid.UUID]*lane{}, full: map[uuid.UUID]bool{}, room: make(chan struct{}, 1)}
}

// Deliver records ev's deliveries (none again for an event handed over
// twice) and starts their first attempts. The error is the storage's.
func (p *Dispatcher) Deliver(ctx context.Context, ev Event) error {
	ds, err := p.s.Enqueue(ctx, ev)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range ds {
		done := func(err error) {
			if err != nil {
				p.s.attemptFailed(p.ctx, d, err)
			}
		}
		if !p.add(job{d, done}, firstFits) {
			errs = append(errs, p.s.leaveDue(ctx, d))
		}
	}
	return errors.Join(errs...)
}

// Run is the retry poller: at every tick, and whenever an endpoint it
// skipped has an idle worker again, it claims the retries due into their
// endpoints' lanes, as many as they have room for, until ctx (the
// Dispatcher's) ends. It never waits for an attempt, so one endpoint's
// slow receiver delays no other endpoint's retries. Storage errors go to
// onError, which the lanes may call at once. Run one poller per
// Dispatcher; several replicas may each run theirs: ClaimDue hands each
// delivery to one of them.
func (p *Dispatcher) Run(ticks <-chan time.Time, onError func(error)) {
	done := func(err error) {
		if err != nil && !deleted(err) && p.ctx.Err() == nil {
			onError(err)
		}
	}
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-ticks:
		case <-p.room:
		}
		if _, err := p.claimDue(done); err != nil && p.ctx.Err() == nil {
			onError(err)
		}
	}
}

// deleted says whether err is an attempt's finding that its endpoint was
// deleted meanwhile, its deliveries with it: nothing is left to do.
func deleted(err error) bool {
	return errors.Is(err, ErrDeliveryNotFound) || errors.Is(err, ErrEndpointNotFound)
}

// claimDue claims the retries due now into their endpoints' lanes, their
// attempts' errors going to done, and says how many it handed over. It
// claims none for an endpoint whose lane has no idle worker, and gives
// back (due at once) what a claim took beyond a lane's RetryRoom, so that
// every claimed retry starts within half its lease.
func (p *Dispatcher) claimDue(done func(error)) (int, error) {
	n := 0
	for p.ctx.Err() == nil {
		now := p.s.now().UTC().Truncate(time.Microsecond)
		ds, err := p.s.deliveries.ClaimDue(p.ctx, now, claimLease, RetryRoom, p.busy())
		if err != nil {
			return n, err
		}
		var errs []error
		given := 0
		for _, d := range ds {
			if p.add(job{d, done}, retryFits) {
				n++
			} else {
				given++
				errs = append(errs, p.s.leaveDue(p.ctx, d))
			}
		}
		// After a give-back, claim again: its lane is full now, skipped
		// (and noted, for a wake) while the others' due retries are claimed.
		if err := errors.Join(errs...); err != nil || (len(ds) < RetryRoom && given == 0) {
			return n, err
		}
	}
	return n, nil
}

// busy lists the endpoints whose lanes have no idle worker, and notes
// them so that a worker of theirs becoming idle wakes the poller.
func (p *Dispatcher) busy() []uuid.UUID {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.full)
	var out []uuid.UUID
	for id, l := range p.lanes {
		if l.load() >= MaxPerEndpoint {
			p.full[id] = true
			out = append(out, id)
		}
	}
	return out
}

// firstFits and retryFits say whether a lane has room for a first
// attempt, or for a claimed retry.
func firstFits(l *lane) bool { return len(l.waiting) < MaxWaitingPerEndpoint }
func retryFits(l *lane) bool { return l.load() < RetryRoom }

// Wait waits for the attempts under way to end.
func (p *Dispatcher) Wait() { p.flying.Wait() }

// add puts j in its endpoint's lane if fits says it has room, and starts
// a worker there if it has fewer than MaxPerEndpoint; false when it has
// no room.
func (p *Dispatcher) add(j job, fits func(*lane) bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	endpoint := j.d.EndpointID
	l := p.lanes[endpoint]
	if l == nil {
		l = &lane{}
		p.lanes[endpoint] = l
	}
	if !fits(l) {
		return false
	}
	l.waiting = append(l.waiting, j)
	if l.running < MaxPerEndpoint {
		l.running++
		p.flying.Go(func() { p.work(endpoint) })
	}
	return true
}

// work attempts the endpoint's waiting deliveries until none is left. An
// attempt under way when ctx ends is finished and recorded (the client's
// timeout bounds it), as the job queue lets a running job finish at a
// shutdown: cut off, it would be sent again after the restart.
func (p *Dispatcher) work(endpoint uuid.UUID) {
	ctx := context.WithoutCancel(p.ctx)
	for {
		j, ok := p.next(endpoint)
		if !ok {
			return
		}
		_, err := p.s.attemptNew(ctx, j.d)
		j.done(err)
	}
}

// next takes the endpoint's next waiting delivery; false, and one worker
// less, when none is left. Once ctx has ended what waits is dropped: each
// stays pending, for a poller when its claim lapses. A lane the poller
// skipped that now has an idle worker wakes it.
func (p *Dispatcher) next(endpoint uuid.UUID) (job, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lanes[endpoint]
	if p.ctx.Err() != nil {
		l.waiting = nil
	}
	if p.full[endpoint] && l.load() <= MaxPerEndpoint { // the job just done no longer counts
		delete(p.full, endpoint)
		select {
		case p.room <- struct{}{}:
		default: // a wake is pending already
		}
	}
	if len(l.waiting) == 0 {
		if l.running--; l.running == 0 {
			delete(p.lanes, endpoint)
		}
		return job{}, false
	}
	j := l.waiting[0]
	l.waiting = l.waiting[1:]
	return j, true
}

// leaveDue gives up d's claim (its creation's, or the poller's), so that
// d is due now for a poller rather than when that claim would have
// lapsed. Another claimer that took it already keeps it.
func (s *Service) leaveDue(ctx context.Context, d Delivery) error {
	claim := d.Fence()
	d.NextAt = s.now().UTC().Truncate(time.Microsecond)
	d.UpdatedAt = d.NextAt
	if err := s.deliveries.SaveDelivery(ctx, d, claim, nil); err != nil && !errors.Is(err, ErrClaimLost) {
		return err
	}
	return nil
}

// attemptFailed logs the storage error of a first attempt made in the
// background; nothing is lost: the delivery stays pending, for the
// retries. An attempt cut off by the end of ctx (the service stopping) is
// not logged.
func (s *Service) attemptFailed(ctx context.Context, d Delivery, err error) {
	if ctx.Err() != nil || deleted(err) {
		return // stopping, or the endpoint was deleted meanwhile
	}
	s.log.WarnContext(ctx, "webhook delivery attempt not recorded: it is left for the retries",
		"delivery", d.ID.String(), "endpoint", d.EndpointID.String(), "error", err.Error())
}
