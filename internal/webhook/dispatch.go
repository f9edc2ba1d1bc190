package webhook

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
)

// MaxPerEndpoint is how many first attempts a Dispatcher sends to one
// endpoint at once, and MaxWaitingPerEndpoint how many more wait their
// turn in its memory: a receiver that holds its requests open (up to the
// client's timeout each) takes no more of the Dispatcher than that, and
// its deliveries beyond are left to RunDue.
const (
	MaxPerEndpoint        = 4
	MaxWaitingPerEndpoint = 256
)

// Dispatcher is the job queue's sink of the webhooks (jobs.Sink): its
// Deliver records an event's deliveries and returns, their first attempts
// going on in the background, each endpoint's in its own lane, in the
// order handed over. So a slow receiver holds neither the other
// endpoints nor the job queue's workers (the events' queue, which the
// other sinks share).
//
// A delivery is stored before Deliver returns: if the process dies before
// its attempt ends, RunDue attempts it once its creation's claim lapses.
// One its endpoint's lane has no room for is left due at once, for the
// next RunDue.
type Dispatcher struct {
	s   *Service
	ctx context.Context // the attempts' lifetime: the service's, not a job's

	mu     sync.Mutex
	lanes  map[uuid.UUID]*lane
	flying sync.WaitGroup
}

// lane is one endpoint's deliveries waiting for their first attempt, and
// how many of its attempts are under way.
type lane struct {
	waiting []Delivery
	running int
}

// Dispatcher returns s's sink for a job queue; its background attempts
// run under ctx, which ends them (Wait waits for them to end).
func (s *Service) Dispatcher(ctx context.Context) *Dispatcher {
	return &Dispatcher{s: s, ctx: ctx, lanes: map[uuid.UUID]*lane{}}
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
		if !p.add(d) {
			errs = append(errs, p.s.leaveDue(ctx, d))
		}
	}
	return errors.Join(errs...)
}

// Wait waits for the attempts under way to end.
func (p *Dispatcher) Wait() { p.flying.Wait() }

// add puts d in its endpoint's lane, and starts a worker there if it has
// fewer than MaxPerEndpoint; false when the lane is full.
func (p *Dispatcher) add(d Delivery) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lanes[d.EndpointID]
	if l == nil {
		l = &lane{}
		p.lanes[d.EndpointID] = l
	}
	if len(l.waiting) >= MaxWaitingPerEndpoint {
		return false
	}
	l.waiting = append(l.waiting, d)
	if l.running < MaxPerEndpoint {
		l.running++
		p.flying.Go(func() { p.work(d.EndpointID) })
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
		d, ok := p.next(endpoint)
		if !ok {
			return
		}
		if _, err := p.s.attemptNew(ctx, d); err != nil {
			p.s.attemptFailed(p.ctx, d, err)
		}
	}
}

// next takes the endpoint's next waiting delivery; false, and one worker
// less, when none is left. Once ctx has ended what waits is dropped: each
// stays pending, for RunDue when its creation's claim lapses.
func (p *Dispatcher) next(endpoint uuid.UUID) (Delivery, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lanes[endpoint]
	if p.ctx.Err() != nil {
		l.waiting = nil
	}
	if len(l.waiting) == 0 {
		if l.running--; l.running == 0 {
			delete(p.lanes, endpoint)
		}
		return Delivery{}, false
	}
	d := l.waiting[0]
	l.waiting = l.waiting[1:]
	return d, true
}

// leaveDue gives up the claim of d's creation, so that d is due now for
// RunDue rather than when that claim would have lapsed. Another claimer
// that took it already keeps it.
func (s *Service) leaveDue(ctx context.Context, d Delivery) error {
	claim := d.Fence()
	d.NextAt = s.now().UTC().Truncate(time.Microsecond)
	d.UpdatedAt = d.NextAt
	if err := s.deliveries.SaveDelivery(ctx, d, claim, nil); err != nil && !errors.Is(err, ErrClaimLost) {
		return err
	}
	return nil
}

// attemptFailed logs the storage error of an attempt made in the
// background; nothing is lost: the delivery stays pending, for RunDue. An
// attempt cut off by the end of ctx (the service stopping) is not logged.
func (s *Service) attemptFailed(ctx context.Context, d Delivery, err error) {
	if ctx.Err() != nil || errors.Is(err, ErrDeliveryNotFound) || errors.Is(err, ErrEndpointNotFound) {
		return // stopping, or the endpoint was deleted meanwhile
	}
	s.log.WarnContext(ctx, "webhook delivery attempt not recorded: it is left for the retries",
		"delivery", d.ID.String(), "endpoint", d.EndpointID.String(), "error", err.Error())
}
