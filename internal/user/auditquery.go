package user

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// AuditKinds lists every kind of security event, for validating filters and
// documenting them.
var AuditKinds = []AuditKind{
	AuditRegistered, AuditLoginSucceeded, AuditLoginFailed, AuditLoggedOut, AuditSessionRevoked,
	AuditRefreshReused, AuditProfileUpdated, AuditPasswordChanged, AuditResetRequested,
	AuditResetCompleted, AuditVerificationSent, AuditEmailVerified, AuditDeactivated,
	AuditReactivated, AuditRoleChanged, AuditDeleted, AuditAdminCreated, AuditDataExported,
}

// Valid reports whether k is one of AuditKinds.
func (k AuditKind) Valid() bool { return slices.Contains(AuditKinds, k) }

// AuditFilter selects audit events, newest (highest ID) first. Zero fields
// do not filter.
type AuditFilter struct {
	SubjectID uuid.UUID   // events about this account
	ActorID   uuid.UUID   // events by this account
	Kinds     []AuditKind // events of any of these kinds
	Since     time.Time   // events at or after Since
	Until     time.Time   // events before Until
	// BeforeID is the keyset cursor: only events with a smaller ID. Events
	// appended meanwhile always get larger IDs, so paging on with the ID of
	// the last event of a page never repeats or skips an event.
	BeforeID int64
	// Limit is the most events returned; zero or less means no limit.
	Limit int
}

// AuditRepository is the audit log as a store keeps it: append-only (the
// stores refuse to change or delete a row, in the database itself), never
// tied to the users table, so that deleting an account keeps its history.
type AuditRepository interface {
	AuditLog
	// AuditEvents returns the events f selects, ID descending. A uuid.Nil
	// actor or subject comes back as uuid.Nil, an empty detail as nil.
	AuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// AllSessions returns every session of userID, revoked and expired ones
	// included, oldest first (for the user's data export).
	AllSessions(ctx context.Context, userID uuid.UUID) ([]Session, error)
}

// Audit page sizes.
const (
	MaxAuditPage     = 100 // the largest page of events a caller may ask for
	DefaultAuditPage = 50  // the admin listing's page when none is asked for
)

// AuditPage is one page of events and the cursor of the next: Next is the
// BeforeID that continues the listing, 0 when there is no more.
type AuditPage struct {
	Events []AuditEvent
	Next   int64
}

// AuditEvents lists the events f selects, for an administrator only
// (ErrForbidden for anyone else). f.Limit is cut to 1..MaxAuditPage
// (DefaultAuditPage when unset); an unknown kind is a ValidationError.
func (s *Service) AuditEvents(ctx context.Context, actor User, f AuditFilter) (AuditPage, error) {
	if !actor.IsAdmin() {
		return AuditPage{}, ErrForbidden
	}
	for _, k := range f.Kinds {
		if !k.Valid() {
			return AuditPage{}, invalid("query.kind", "unknown event kind %q", k)
		}
	}
	return s.auditPage(ctx, f, DefaultAuditPage)
}

// MyAudit lists the security events about u (u's subject), newest first,
// beforeID and limit paging as in AuditFilter.
func (s *Service) MyAudit(ctx context.Context, u User, beforeID int64, limit int) (AuditPage, error) {
	return s.auditPage(ctx, AuditFilter{SubjectID: u.ID, BeforeID: beforeID, Limit: limit}, DefaultAuditPage)
}

// auditPage reads one page of f (with one event more, to know whether
// another page follows).
func (s *Service) auditPage(ctx context.Context, f AuditFilter, def int) (AuditPage, error) {
	if f.Limit <= 0 {
		f.Limit = def
	}
	f.Limit = min(f.Limit, MaxAuditPage)
	want := f.Limit
	f.Limit++
	events, err := s.repo.AuditEvents(ctx, f)
	if err != nil {
		return AuditPage{}, err
	}
	var p AuditPage
	if len(events) > want {
		events = events[:want]
		p.Next = events[want-1].ID
	}
	p.Events = events
	return p, nil
}

// Export is everything the service keeps about one user: the profile,
// every session (revoked and expired ones included) and every security
// event about the account.
type Export struct {
	At       time.Time
	Profile  User
	Sessions []Session
	Events   []AuditEvent // newest first
}

// Export gathers u's data, as it is stored now, and records that it was
// exported.
func (s *Service) Export(ctx context.Context, u User) (Export, error) {
	profile, err := s.repo.ByID(ctx, u.ID)
	if err != nil {
		return Export{}, err
	}
	sessions, err := s.repo.AllSessions(ctx, u.ID)
	if err != nil {
		return Export{}, err
	}
	events, err := s.repo.AuditEvents(ctx, AuditFilter{SubjectID: u.ID})
	if err != nil {
		return Export{}, err
	}
	s.record(ctx, AuditDataExported, u.ID, u.ID, nil)
	return Export{At: s.now(), Profile: profile, Sessions: sessions, Events: events}, nil
}

// patchedFields names the profile fields p sets, comma-separated. The
// audit event keeps the names, not the values: the log outlives the
// account and can never be edited, so it holds no personal data beyond
// ids, and the event still says that the address reset links go to has
// changed (and its verification was cleared), when, and from where.
func patchedFields(p Patch) string {
	var f []string
	if p.Email != nil {
		f = append(f, "email")
	}
	if p.FullName != nil {
		f = append(f, "full_name")
	}
	if p.IsActive != nil {
		f = append(f, "is_active")
	}
	if p.Role != nil {
		f = append(f, "role")
	}
	return strings.Join(f, ",")
}
