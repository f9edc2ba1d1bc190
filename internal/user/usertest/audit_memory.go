package usertest

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// memoryAudit is Memory's user.AuditLog. It only ever appends
// (memoryRetention removes).
type memoryAudit struct{ memoryConn }

var _ user.AuditLog = memoryAudit{}

// Append implements user.AuditLog: the event gets the next ID.
func (m memoryAudit) Append(_ context.Context, e user.AuditEvent) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	m.lastEventID++
	e.ID = m.lastEventID
	e.At = e.At.UTC()
	e.Detail = cloneDetail(e.Detail)
	m.events = append(m.events, e)
	return nil
}

// Events implements user.AuditLog.
func (m memoryAudit) Events(_ context.Context, f user.AuditFilter) ([]user.AuditEvent, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return nil, err
	}
	events := m.events
	if f.ByTime {
		events = slices.Clone(events)
		slices.SortStableFunc(events, func(a, b user.AuditEvent) int {
			if c := a.At.Compare(b.At); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
	}
	var out []user.AuditEvent
	for _, e := range slices.Backward(events) {
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
		if auditMatches(f, e) {
			e.Detail = cloneDetail(e.Detail)
			out = append(out, e)
		}
	}
	return out, nil
}

// memoryRetention is Memory's user.AuditRetention.
type memoryRetention struct{ memoryConn }

var _ user.AuditRetention = memoryRetention{}

// CountBefore implements user.AuditRetention.
func (m memoryRetention) CountBefore(_ context.Context, before time.Time) (int64, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return 0, err
	}
	var n int64
	for _, e := range m.events {
		if e.At.Before(before) {
			n++
		}
	}
	return n, nil
}

// PruneBefore implements user.AuditRetention. The kept events go to a new
// slice: a snapshot of a transaction may still hold the old one.
func (m memoryRetention) PruneBefore(_ context.Context, before time.Time) (int64, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return 0, err
	}
	kept := make([]user.AuditEvent, 0, len(m.events))
	for _, e := range m.events {
		if !e.At.Before(before) {
			kept = append(kept, e)
		}
	}
	n := int64(len(m.events) - len(kept))
	m.events = kept
	return n, nil
}

// auditMatches reports whether f selects e.
func auditMatches(f user.AuditFilter, e user.AuditEvent) bool {
	switch {
	case f.SubjectID != uuid.Nil && e.SubjectID != f.SubjectID,
		f.ActorID != uuid.Nil && e.ActorID != f.ActorID,
		len(f.Kinds) > 0 && !slices.Contains(f.Kinds, e.Kind),
		!f.Since.IsZero() && e.At.Before(f.Since),
		!f.Until.IsZero() && !e.At.Before(f.Until),
		f.BeforeID > 0 && !f.ByTime && e.ID >= f.BeforeID,
		f.BeforeID > 0 && f.ByTime && !before(e, f.BeforeAt, f.BeforeID):
		return false
	}
	return true
}

// before reports whether e comes before (at, id) in (At, ID) order.
func before(e user.AuditEvent, at time.Time, id int64) bool {
	return e.At.Before(at) || e.At.Equal(at) && e.ID < id
}

// cloneDetail copies d; an empty detail is nil, as the stores read it.
func cloneDetail(d map[string]string) map[string]string {
	if len(d) == 0 {
		return nil
	}
	return maps.Clone(d)
}
