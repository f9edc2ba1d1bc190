package webhook

import (
	"context"
	"errors"
	"time"
)

// A pending delivery's NextAt is its claim: whoever creates, claims
// (ClaimDue), renews or replays it sets NextAt to claimLease after its
// UpdatedAt, and no other claimer takes it before then. Every save made
// under a claim is fenced with it (SaveDelivery), so that a claimer that
// lost its claim (it outlived its lease, or a replay took the delivery)
// records nothing over the new claimer's attempt.

// claimed says whether d is under a claim at now, that is being attempted
// by its claimer: pending, not held, and due exactly claimLease after its
// last change, which a retry's wait never is (outcome sees to it).
func (d Delivery) claimed(now time.Time) bool {
	return d.State == Pending && !d.Held && d.NextAt.After(now) && d.NextAt.Equal(d.UpdatedAt.Add(claimLease))
}

// keepClaim makes sure d's claim outlasts the attempt about to start at
// now: with less than half the lease left (Deliver sends its endpoints
// one after another, each up to the client's timeout, all under the
// claims of their creation), or held or due (a job queue's Attempt), it
// renews the claim for claimLease, fenced with the claim d was read or
// created under. ErrClaimLost: another claimer has d.
func (s *Service) keepClaim(ctx context.Context, d Delivery, now time.Time) (Delivery, error) {
	if !d.Held && d.NextAt.Sub(now) >= claimLease/2 {
		return d, nil // one write less per delivery in the usual case
	}
	claim := d.Fence()
	d.NextAt, d.Held, d.UpdatedAt = now.Add(claimLease), false, now
	if err := s.deliveries.SaveDelivery(ctx, d, claim, nil); err != nil {
		return Delivery{}, err
	}
	return d, nil
}

// saveAttempt saves d and its attempt a under claim, and says whether d
// was saved. Under a lost claim nothing is saved: the new claimer records
// its own attempt, and this one counts as neither success nor failure.
// When the attempt itself cannot be stored, d is saved without it, so
// that the delivery still moves on to its next retry or its end rather
// than being sent again at every lease's expiry; the error is returned
// all the same.
func (s *Service) saveAttempt(ctx context.Context, d Delivery, claim Fence, a *Attempt) (bool, error) {
	err := s.deliveries.SaveDelivery(ctx, d, claim, a)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrClaimLost):
		s.lostClaim(ctx, d)
		return false, nil
	case errors.Is(err, ErrDeliveryNotFound):
		return false, err
	}
	s.log.ErrorContext(ctx, "webhook attempt not recorded: saving the delivery's progress without it",
		"delivery", d.ID.String(), "attempt", a.N, "error", err.Error())
	switch again := s.deliveries.SaveDelivery(ctx, d, claim, nil); {
	case again == nil:
		return true, err
	case errors.Is(again, ErrClaimLost):
		s.lostClaim(ctx, d)
		return false, err
	default:
		return false, errors.Join(err, again)
	}
}

// lostClaim logs that d's claim was lost before its save: another claimer
// took it (this one outlived its lease, or a replay came).
func (s *Service) lostClaim(ctx context.Context, d Delivery) {
	s.log.WarnContext(ctx, "webhook delivery claim lost: another claimer took it, this attempt is not recorded",
		"delivery", d.ID.String(), "endpoint", d.EndpointID.String())
}
