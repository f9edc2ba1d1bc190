package user

import (
	"context"
	"strconv"
	"time"
)

// AuditRetention is the one way around the audit log's append-only rule:
// removing the events older than a date, which the databases allow only
// through it (a transaction-local permission their triggers check). Only
// Service.PruneAudit uses it, so that every removal is itself recorded.
type AuditRetention interface {
	// CountBefore is how many events are older than before (At < before).
	CountBefore(ctx context.Context, before time.Time) (int64, error)
	// PruneBefore deletes the events older than before and says how many
	// it deleted. Inside Atomic the deletion is part of the transaction.
	PruneBefore(ctx context.Context, before time.Time) (int64, error)
}

// AuditPrune is an operator's request to remove old audit events.
type AuditPrune struct {
	// Before: the events strictly older than this go. It may not be later
	// than now.
	Before time.Time
	// Operator names who asked (the operating-system user of the command),
	// kept in the audit.pruned event.
	Operator string
	// Via names how they asked ("usersvc audit prune"), kept as the
	// event's user agent.
	Via string
	// DryRun only counts what would go; nothing is removed or recorded.
	DryRun bool
}

// PruneAudit removes the audit events older than p.Before and records the
// removal (who, when, how many, the date) as an audit.pruned event in the
// same transaction: either both happen or neither. It returns how many
// events went (with DryRun: would go). A date later than now is a
// ValidationError of the field "before": the log's recent history is
// never removed by a mistyped year.
func (s *Service) PruneAudit(ctx context.Context, p AuditPrune) (int64, error) {
	now := s.now()
	if p.Before.IsZero() {
		return 0, invalid("before", CodeDateRequired)
	}
	if p.Before.After(now) {
		return 0, invalid("before", CodeDateFuture,
			p.Before.UTC().Format(time.RFC3339), now.Format(time.RFC3339))
	}
	before := p.Before.UTC()
	if p.DryRun {
		return s.stores.Retention.CountBefore(ctx, before)
	}
	var pruned int64
	err := s.stores.Tx.Atomic(ctx, func(tx Stores) error {
		n, err := tx.Retention.PruneBefore(ctx, before)
		if err != nil {
			return err
		}
		pruned = n
		e := AuditEvent{
			At: now, Kind: AuditPruned, UserAgent: truncate(cleanText(p.Via), MaxUserAgent),
			Detail: map[string]string{
				"before": before.Format(time.RFC3339Nano), "events": strconv.FormatInt(n, 10),
				"operator": truncate(cleanText(p.Operator), maxOperatorName),
			},
		}
		return s.appendEvent(ctx, tx, true, e)
	})
	if err != nil {
		return 0, err
	}
	return pruned, nil
}

// maxOperatorName bounds the operator's name kept in an audit.pruned event.
const maxOperatorName = 64
