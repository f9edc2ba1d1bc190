package usertest

import (
	"bytes"
	"context"
	"maps"
	"slices"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// memoryAudit is Memory's audit log; Memory's lock guards it. It only
// ever appends.
type memoryAudit struct {
	events []user.AuditEvent // ID order
}

// AppendAudit implements user.AuditLog: the event gets the next ID.
func (m *Memory) AppendAudit(_ context.Context, e user.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	e.ID = int64(len(m.events) + 1)
	e.At = e.At.UTC()
	e.Detail = cloneDetail(e.Detail)
	m.events = append(m.events, e)
	return nil
}

// AuditEvents implements user.AuditRepository.
func (m *Memory) AuditEvents(_ context.Context, f user.AuditFilter) ([]user.AuditEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []user.AuditEvent
	for _, e := range slices.Backward(m.events) {
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

// auditMatches reports whether f selects e.
func auditMatches(f user.AuditFilter, e user.AuditEvent) bool {
	switch {
	case f.SubjectID != uuid.Nil && e.SubjectID != f.SubjectID,
		f.ActorID != uuid.Nil && e.ActorID != f.ActorID,
		len(f.Kinds) > 0 && !slices.Contains(f.Kinds, e.Kind),
		!f.Since.IsZero() && e.At.Before(f.Since),
		!f.Until.IsZero() && !e.At.Before(f.Until),
		f.BeforeID > 0 && e.ID >= f.BeforeID:
		return false
	}
	return true
}

// cloneDetail copies d; an empty detail is nil, as the stores read it.
func cloneDetail(d map[string]string) map[string]string {
	if len(d) == 0 {
		return nil
	}
	return maps.Clone(d)
}

// AllSessions implements user.AuditRepository.
func (m *Memory) AllSessions(_ context.Context, userID uuid.UUID) ([]user.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var all []user.Session
	for _, s := range m.sessions {
		if s.UserID == userID {
			all = append(all, s)
		}
	}
	slices.SortFunc(all, func(a, b user.Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return all, nil
}
