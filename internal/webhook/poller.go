package webhook

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
)

// poller claims due deliveries and attempts them, up to Config.Workers at
// once, for Run and RunDue. It claims again as soon as fewer than Workers
// claimed deliveries wait, not once a whole batch is done: a receiver
// that holds its request open (up to the client's timeout) holds one
// worker, not the retries of every other endpoint.
//
// Nor does an endpoint with more due retries than there are workers, whose
// receiver hangs, hold back the others' for longer than one attempt: an
// endpoint may have Config.EndpointWorkers attempts under way before any
// other endpoint's waiting delivery; beyond that it takes a worker only
// when no other endpoint's delivery waits, so that one endpoint's backlog
// alone still has every worker. And since the oldest due go first, an
// endpoint with a backlog would have every claim to itself: at each of
// Run's ticks, while an endpoint has EndpointWorkers or more claimed, the
// poller also claims up to EndpointWorkers of the other endpoints' due
// deliveries (fillOthers).
//
// Claimed deliveries waiting for a worker keep their claim (claimLease,
// renewed by keepClaim when half of it is gone, fenced): another replica
// takes one only once its claim has lapsed, and then this one's attempt
// records nothing.
type poller struct {
	s       *Service
	queue   []claimed         // claimed, waiting for a worker
	busy    int               // attempts under way
	running map[uuid.UUID]int // attempts under way by endpoint
	done    chan attempted    // an attempt's end
}

// claimed is a claimed delivery and its endpoint as read at the claim.
type claimed struct {
	d Delivery
	e Endpoint
}

// attempted is an attempt's end: its delivery's endpoint, and nil or the
// storage's error.
type attempted struct {
	endpoint uuid.UUID
	err      error
}

func (s *Service) newPoller() *poller {
	return &poller{s: s, running: map[uuid.UUID]int{}, done: make(chan attempted, s.cfg.Workers)}
}

// fill claims due deliveries, up to dueBatch waiting, when fewer than
// Workers wait.
func (p *poller) fill(ctx context.Context) error {
	if len(p.queue) >= p.s.cfg.Workers {
		return nil
	}
	return p.claim(ctx, ClaimLimits{Max: dueBatch - len(p.queue)})
}

// fillOthers claims, while some endpoints have EndpointWorkers or more
// deliveries claimed, the due deliveries of the others, up to
// EndpointWorkers.
func (p *poller) fillOthers(ctx context.Context) error {
	counts := maps.Clone(p.running) // and those waiting
	for _, c := range p.queue {
		counts[c.d.EndpointID]++
	}
	var full []uuid.UUID
	for e, n := range counts {
		if n >= p.s.cfg.EndpointWorkers {
			full = append(full, e)
		}
	}
	if len(full) == 0 {
		return nil // fill's claims take every endpoint's oldest
	}
	return p.claim(ctx, ClaimLimits{Max: p.s.cfg.EndpointWorkers, Except: full})
}

// claim claims due deliveries within limits and queues them.
func (p *poller) claim(ctx context.Context, limits ClaimLimits) error {
	ds, err := p.s.deliveries.ClaimDue(ctx, p.s.now().UTC().Truncate(time.Microsecond), claimLease, limits)
	if err != nil || len(ds) == 0 {
		return err
	}
	endpoints, err := p.s.endpointsOf(ctx, ds)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if e, ok := endpoints[d.EndpointID]; ok { // else deleted meanwhile, its deliveries with it
			p.queue = append(p.queue, claimed{d, e})
		}
	}
	return nil
}

// start starts attempts at the waiting deliveries while workers are free,
// each time the first waiting one whose endpoint has fewer than
// EndpointWorkers under way, or else the first; each attempt's end comes
// on done.
func (p *poller) start(ctx context.Context) {
	for p.busy < p.s.cfg.Workers && len(p.queue) > 0 {
		i := max(0, slices.IndexFunc(p.queue, func(c claimed) bool { return p.running[c.d.EndpointID] < p.s.cfg.EndpointWorkers }))
		c := p.queue[i]
		p.queue = slices.Delete(p.queue, i, i+1)
		p.busy++
		p.running[c.d.EndpointID]++
		go func() {
			_, err := p.s.attempt(ctx, c.d, c.e)
			if errors.Is(err, ErrDeliveryNotFound) || errors.Is(err, ErrEndpointNotFound) {
				err = nil // the endpoint was deleted meanwhile, its deliveries with it
			}
			p.done <- attempted{c.d.EndpointID, err}
		}()
	}
}

// ended counts a's attempt as ended and returns its error.
func (p *poller) ended(a attempted) error {
	p.busy--
	if p.running[a.endpoint]--; p.running[a.endpoint] == 0 {
		delete(p.running, a.endpoint)
	}
	return a.err
}

// next waits for an attempt under way to end and returns its error.
func (p *poller) next() error {
	return p.ended(<-p.done)
}

// wait waits for the attempts under way.
func (p *poller) wait() {
	for p.busy > 0 {
		_ = p.next()
	}
}
