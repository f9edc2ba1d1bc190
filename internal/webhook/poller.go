package webhook

import (
	"context"
	"errors"
	"time"
)

// poller claims due deliveries and attempts them, up to Config.Workers at
// once, for Run and RunDue. It claims again as soon as fewer than Workers
// claimed deliveries wait, not once a whole batch is done: a receiver
// that holds its request open (up to the client's timeout) holds one
// worker, not the retries of every other endpoint.
//
// Claimed deliveries waiting for a worker keep their claim (claimLease,
// renewed by keepClaim when half of it is gone, fenced): another replica
// takes one only once its claim has lapsed, and then this one's attempt
// records nothing.
type poller struct {
	s     *Service
	queue []claimed  // claimed, waiting for a worker
	busy  int        // attempts under way
	done  chan error // an attempt's end: nil, or the storage's error
}

// claimed is a claimed delivery and its endpoint as read at the claim.
type claimed struct {
	d Delivery
	e Endpoint
}

func (s *Service) newPoller() *poller {
	return &poller{s: s, done: make(chan error, s.cfg.Workers)}
}

// fill claims due deliveries, up to dueBatch waiting, when fewer than
// Workers wait.
func (p *poller) fill(ctx context.Context) error {
	if len(p.queue) >= p.s.cfg.Workers {
		return nil
	}
	ds, err := p.s.deliveries.ClaimDue(ctx, p.s.now().UTC().Truncate(time.Microsecond), claimLease, dueBatch-len(p.queue))
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

// start starts attempts at the waiting deliveries while workers are free;
// each attempt's end comes on done.
func (p *poller) start(ctx context.Context) {
	for p.busy < p.s.cfg.Workers && len(p.queue) > 0 {
		c := p.queue[0]
		p.queue = p.queue[1:]
		p.busy++
		go func() {
			_, err := p.s.attempt(ctx, c.d, c.e)
			if errors.Is(err, ErrDeliveryNotFound) || errors.Is(err, ErrEndpointNotFound) {
				err = nil // the endpoint was deleted meanwhile, its deliveries with it
			}
			p.done <- err
		}()
	}
}

// next waits for an attempt under way to end and returns its error.
func (p *poller) next() error {
	p.busy--
	return <-p.done
}

// wait waits for the attempts under way.
func (p *poller) wait() {
	for p.busy > 0 {
		_ = p.next()
	}
}
