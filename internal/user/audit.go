package user

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// AuditKind names a security event.
type AuditKind string

// The security events the service records.
const (
	AuditRegistered        AuditKind = "user.registered"
	AuditLoginSucceeded    AuditKind = "login.succeeded"
	AuditLoginFailed       AuditKind = "login.failed"
	AuditLoggedOut         AuditKind = "session.logged_out"
	AuditSessionRevoked    AuditKind = "session.revoked"
	AuditRefreshReused     AuditKind = "session.refresh_reused"
	AuditProfileUpdated    AuditKind = "user.updated"
	AuditPasswordChanged   AuditKind = "password.changed"
	AuditResetRequested    AuditKind = "password.reset_requested"
	AuditResetCompleted    AuditKind = "password.reset_completed"
	AuditVerificationSent  AuditKind = "email.verification_sent"
	AuditEmailVerified     AuditKind = "email.verified"
	AuditDeactivated       AuditKind = "user.deactivated"
	AuditReactivated       AuditKind = "user.reactivated"
	AuditRoleChanged       AuditKind = "user.role_changed"
	AuditDeleted           AuditKind = "user.deleted"
	AuditAdminCreated      AuditKind = "admin.created"
	AuditDataExported      AuditKind = "user.data_exported"
	AuditReauthenticated   AuditKind = "session.reauthenticated"
	AuditEmailChangeUndone AuditKind = "email.change_undone"
	AuditPruned            AuditKind = "audit.pruned"
	AuditJobRetried        AuditKind = "admin.job_retried"
	// AuditAppConsentRevoked is an account taking back its consent to a
	// relying party of the OpenID provider (detail: app_client_id,
	// app_name).
	AuditAppConsentRevoked AuditKind = "app.consent_revoked"
)

// AuditKinds lists every kind of security event, for validating filters and
// documenting them.
var AuditKinds = []AuditKind{
	AuditRegistered, AuditLoginSucceeded, AuditLoginFailed, AuditLoggedOut, AuditSessionRevoked,
	AuditRefreshReused, AuditProfileUpdated, AuditPasswordChanged, AuditResetRequested,
	AuditResetCompleted, AuditVerificationSent, AuditEmailVerified, AuditDeactivated,
	AuditReactivated, AuditRoleChanged, AuditDeleted, AuditAdminCreated, AuditDataExported,
	AuditReauthenticated, AuditEmailChangeUndone, AuditPruned, AuditJobRetried,
	AuditMFAEnabled, AuditMFARemoved, AuditMFARecoveryCodesNew, AuditMFARecoveryCodeUsed, AuditMFAReset,
	AuditMFACodeFailed, AuditAppConsentRevoked,
}

// Valid reports whether k is one of AuditKinds.
func (k AuditKind) Valid() bool { return slices.Contains(AuditKinds, k) }

// AuditEvent is one entry of the append-only audit log. It never holds a
// secret: no password, token or hash, only which fields changed.
type AuditEvent struct {
	ID   int64 // assigned by the store, increasing with every append
	At   time.Time
	Kind AuditKind
	// ActorID is who acted: the user themself, an administrator, or
	// uuid.Nil for an anonymous caller (a failed login, a reset request).
	ActorID uuid.UUID
	// SubjectID is whose account the event is about, uuid.Nil when the
	// request named no account that exists.
	SubjectID uuid.UUID
	IP        string
	UserAgent string
	RequestID string
	// Detail holds non-secret specifics, e.g. {"role": "admin"} or
	// {"fields": "email,full_name"}.
	Detail map[string]string
}

// event is an event of kind by actor about subject, with the client of
// WithClient and the service's clock.
func (s *Service) event(ctx context.Context, kind AuditKind, actor, subject uuid.UUID, detail map[string]string) AuditEvent {
	c := clientOf(ctx)
	if c.ClientID != "" {
		detail = maps.Clone(detail)
		if detail == nil {
			detail = map[string]string{}
		}
		detail["client_id"] = c.ClientID
	}
	return AuditEvent{
		At: s.now(), Kind: kind, ActorID: actor, SubjectID: subject,
		IP: c.IP, UserAgent: c.UserAgent, RequestID: c.RequestID, Detail: detail,
	}
}

// record appends an event of kind by actor about subject after the fact;
// one that cannot be stored at all is logged (and counted), since what it
// records has happened. Security events go through appendEvent inside
// their change's transaction instead.
func (s *Service) record(ctx context.Context, kind AuditKind, actor, subject uuid.UUID, detail map[string]string) {
	_ = s.appendEvent(ctx, s.stores, false, s.event(ctx, kind, actor, subject, detail))
}

// appendEvent appends e through st: the stores, or (inTx) the transaction
// of its change, which a refused append leaves usable (AuditLog.Append).
// When e cannot be stored as it is (text a database refuses), it is
// stored again without its client text and detail, and counted; when that
// fails too, it is logged, counted and the error, wrapping ErrUnavailable,
// returned.
func (s *Service) appendEvent(ctx context.Context, st Stores, inTx bool, e AuditEvent) error {
	original := e
	first := st.Audit.Append(ctx, e)
	if first == nil {
		return s.announce(ctx, st, inTx, original)
	}
	e.UserAgent, e.Detail = "", nil
	if s.observer != nil {
		s.observer.AuditRetried(e.Kind)
	}
	err := st.Audit.Append(ctx, e)
	if err == nil {
		s.log.WarnContext(ctx, "audit event stored without its client text and detail", "kind", string(e.Kind), "error", first.Error())
		return s.announce(ctx, st, inTx, original)
	}
	if s.observer != nil {
		s.observer.AuditLost(e.Kind)
	}
	s.log.ErrorContext(ctx, "audit event lost: could not append it", "kind", string(e.Kind), "error", err.Error())
	return fmt.Errorf("%w: audit event %s: %w", ErrUnavailable, e.Kind, err)
}

// recordIn records e, an event that is not a security one, in the
// transaction tx of its change with its catalogue event: when e cannot be
// stored, that is logged and counted (appendEvent) and the change goes
// on, its catalogue event emitted all the same.
func (s *Service) recordIn(ctx context.Context, tx Stores, e AuditEvent) error {
	if err := s.appendEvent(ctx, tx, true, e); err == nil {
		return nil
	}
	return s.publish(ctx, tx, e)
}

// announce emits, in the transaction of its change (inTx), the event of
// the catalogue that e records (events.go); its detail is the original's
// even when the audit event was stored without it.
func (s *Service) announce(ctx context.Context, st Stores, inTx bool, e AuditEvent) error {
	if !inTx {
		return nil
	}
	return s.publish(ctx, st, e)
}

// atomically makes change, and the security event of kind it records,
// one transaction: both are stored, or neither.
func (s *Service) atomically(ctx context.Context, e AuditEvent, change func(tx Stores) error) error {
	return s.atomic(ctx, func(tx Stores) error {
		if err := change(tx); err != nil {
			return err
		}
		return s.appendEvent(ctx, tx, true, e)
	})
}

// AuditFilter selects audit events, newest first: by ID, or with ByTime
// by (At, ID). Zero fields do not filter.
type AuditFilter struct {
	SubjectID uuid.UUID   // events about this account
	ActorID   uuid.UUID   // events by this account
	Kinds     []AuditKind // events of any of these kinds
	Since     time.Time   // events at or after Since
	Until     time.Time   // events before Until
	// ByTime orders the events by (At, ID) descending instead of by ID, so
	// that a time window, however old and wide, is read from an index on
	// (at, id) a page at a time (issue 25); BeforeAt and BeforeID are then
	// the cursor.
	ByTime bool
	// BeforeID is the keyset cursor: only events with a smaller ID, or,
	// with ByTime, only events before (BeforeAt, BeforeID) in that order.
	// Events appended meanwhile always get larger IDs (and, from one clock,
	// no earlier At), so paging on from the last event of a page never
	// repeats or skips an event.
	BeforeID int64
	BeforeAt time.Time
	// Limit is the most events returned; zero or less means no limit.
	Limit int
}

// AuditCursor is where a listing of events goes on: below the event
// (At, ID) in (At, ID) order, or, with At zero, below ID in ID order (the
// cursors of releases before the time order, which their listings still
// go on from). ID is 0 for none.
type AuditCursor struct {
	At time.Time
	ID int64
}

// ErrBadAuditCursor is a string that is no AuditCursor.
var ErrBadAuditCursor = errors.New("not an audit cursor")

// String is c's opaque form, URL-safe: base64url of the ID (8 bytes,
// big-endian), after the At in Unix nanoseconds when set (16 bytes). The
// 8-byte form is the one releases before the time order handed out, which
// ParseAuditCursor still reads; a release before it refuses the 16-byte
// form as no cursor of its own.
func (c AuditCursor) String() string {
	var b []byte
	if !c.At.IsZero() {
		b = binary.BigEndian.AppendUint64(b, uint64(c.At.UnixNano())) //nolint:gosec // the bits of the int64, read back as one
	}
	b = binary.BigEndian.AppendUint64(b, uint64(c.ID)) //nolint:gosec // ids are positive
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseAuditCursor reads a cursor of AuditCursor.String; "" is none (the
// zero AuditCursor). Anything else is ErrBadAuditCursor.
func ParseAuditCursor(s string) (AuditCursor, error) {
	if s == "" {
		return AuditCursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c AuditCursor
	switch {
	case err != nil:
		return AuditCursor{}, ErrBadAuditCursor
	case len(b) == 16:
		c.At = time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC() //nolint:gosec // the bits String wrote
		b = b[8:]
	case len(b) != 8:
		return AuditCursor{}, ErrBadAuditCursor
	}
	c.ID = int64(binary.BigEndian.Uint64(b)) //nolint:gosec // checked just below
	if c.ID <= 0 {
		return AuditCursor{}, ErrBadAuditCursor
	}
	return c, nil
}

// Audit page sizes.
const (
	MaxAuditPage     = 100 // the largest page of events a caller may ask for
	DefaultAuditPage = 50  // the admin listing's page when none is asked for
)

// AuditPage is one page of events and the cursor of the next: Next
// continues the listing, its ID 0 when there is no more.
type AuditPage struct {
	Events []AuditEvent
	Next   AuditCursor
}

// AuditEvents lists the events f selects, for an administrator only
// (ErrForbidden for anyone else), newest first by (At, ID), from the
// cursor f.BeforeAt, f.BeforeID (AuditPage.Next of the page before): an
// index on (at, id) then answers any window, however old, a page at a
// time. A cursor without At, handed out before the time order, goes on
// in ID order to the end of its listing, so that a listing begun before
// an upgrade is still complete and without repeats. f.Limit is cut to
// 1..MaxAuditPage (DefaultAuditPage when unset); an unknown kind is a
// ValidationError of the field "kind", and a kind given twice counts once.
func (s *Service) AuditEvents(ctx context.Context, actor User, f AuditFilter) (AuditPage, error) {
	if err := requireAdmin(actor); err != nil {
		return AuditPage{}, err
	}
	f.ByTime = byTime(AuditCursor{At: f.BeforeAt, ID: f.BeforeID})
	for _, k := range f.Kinds {
		if !slices.Contains(s.kinds, k) {
			return AuditPage{}, invalid("kind", CodeEventKind, k)
		}
	}
	// Each kind once: the list is then bounded by the catalogue, whatever
	// the query repeats (as many repeats became as many SQL parameters).
	f.Kinds = slices.Compact(slices.Sorted(slices.Values(f.Kinds)))
	return s.auditPage(ctx, f)
}

// AuditKinds lists every kind of event the audit log may hold: AuditKinds
// and those of Deps.MoreAuditKinds.
func (s *Service) AuditKinds() []AuditKind { return slices.Clone(s.kinds) }

// byTime reports whether a listing goes on from cur in (At, ID) order:
// from the start, or from a cursor with At. A cursor without At, handed
// out by a release before the time order (or by an earlier page of a
// listing begun with one), goes on in ID order to the end of its listing,
// so that a listing begun before an upgrade is complete, without repeats.
func byTime(cur AuditCursor) bool { return cur.ID == 0 || !cur.At.IsZero() }

// MyAudit lists the security events about u (u's subject), newest first
// by (At, ID), from cur (AuditPage.Next of the page before; zero for the
// first page), limit events a page (cut as in AuditEvents): one account's
// events are then read from the index on (subject_id, at, id), as the
// administrators' listing and the export read them, and no query of the
// release needs (subject_id, id) but to finish a listing begun before it
// (a cursor without At, which goes on in ID order; issue 25).
func (s *Service) MyAudit(ctx context.Context, u User, cur AuditCursor, limit int) (AuditPage, error) {
	p, err := s.auditPage(ctx, AuditFilter{SubjectID: u.ID, ByTime: byTime(cur), BeforeAt: cur.At, BeforeID: cur.ID, Limit: limit})
	for i, e := range p.Events {
		p.Events[i] = ownView(e)
	}
	return p, err
}

// ownView is e as its subject sees it: what another account (an
// administrator) did to theirs keeps its actor's id, but not the address
// and browser it came from, that account's own personal data. An event
// without an actor (a failed login) keeps them: where a guess came from
// is what its subject needs to know.
func ownView(e AuditEvent) AuditEvent {
	if e.ActorID != uuid.Nil && e.ActorID != e.SubjectID {
		e.IP, e.UserAgent = "", ""
	}
	return e
}

// auditPage reads one page of f (with one event more, to know whether
// another page follows).
func (s *Service) auditPage(ctx context.Context, f AuditFilter) (AuditPage, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultAuditPage
	}
	f.Limit = min(f.Limit, MaxAuditPage)
	want := f.Limit
	f.Limit++
	events, err := s.audit.Events(ctx, f)
	if err != nil {
		return AuditPage{}, err
	}
	var p AuditPage
	if len(events) > want {
		events = events[:want]
		p.Next.ID = events[want-1].ID
		if f.ByTime {
			p.Next.At = events[want-1].At
		}
	}
	p.Events = events
	return p, nil
}

// ExportPage is how many events, or sessions, an export reads from the
// store at a time: an export holds one page, whatever their number, and
// each page is one short query (a long export never meets the stores'
// bound on a single call).
const ExportPage = 500

// Export is everything the service keeps about one user: the profile,
// every session (revoked and expired ones included), passkeys, the
// second factors' state, email changes, the mailed links that still work, what the user allowed the OpenID provider's relying parties,
// and every security event about the account.
type Export struct {
	At      time.Time
	Profile User
	// Sessions yields every session, oldest first ((CreatedAt, ID)),
	// reading them ExportPage at a time, until the last or the first
	// error, which it yields and stops after. Range over it once, while
	// the request's context lives.
	Sessions iter.Seq2[Session, error]
	Passkeys []PasskeyRecord
	// SecondFactors is what GET /users/me/mfa says: the authenticator
	// app's state and the recovery codes left, never a secret or a code.
	SecondFactors MFAStatus
	EmailChanges  []EmailChange // oldest first; Hash is never shown
	// PendingLinks are the mailed links (email verification, password
	// reset) that still work, oldest first; Hash is never shown.
	PendingLinks []AccountToken
	Consents     []ConsentRecord
	Grants       []GrantRecord
	// Events yields every event about the account, newest first by
	// (At, ID), reading them ExportPage at a time (keyset paging on
	// (At, ID), from the index on (subject_id, at, id)), until the last
	// or the first error, which it yields and stops after. Range over it
	// once, while the request's context lives.
	Events iter.Seq2[AuditEvent, error]
}

// Export gathers u's data, as it is stored now, and records that it was
// exported. Only the first page of sessions and of events is read before
// it returns, so that an unreadable store fails the export before any of
// it is sent; the rest is read as Sessions and Events are ranged over.
// The export's own event is newer than every event it yields.
func (s *Service) Export(ctx context.Context, u User) (Export, error) {
	profile, err := s.users.ByID(ctx, u.ID)
	if err != nil {
		return Export{}, self(err)
	}
	sessions, err := s.sessions.All(ctx, u.ID, SessionPage{Limit: ExportPage})
	if err != nil {
		return Export{}, err
	}
	h, err := s.holdingsOf(ctx, profile)
	if err != nil {
		return Export{}, err
	}
	factors, err := s.MFAStatus(ctx, u.ID)
	if err != nil {
		return Export{}, err
	}
	f := AuditFilter{SubjectID: u.ID, ByTime: true, Limit: ExportPage}
	first, err := s.audit.Events(ctx, f)
	if err != nil {
		return Export{}, err
	}
	s.record(ctx, AuditDataExported, u.ID, u.ID, nil)
	return Export{
		At: s.now(), Profile: profile, Sessions: s.sessionPages(ctx, u.ID, sessions), Passkeys: h.passkeys, SecondFactors: factors, EmailChanges: h.emailChanges,
		PendingLinks: h.links, Consents: h.consents, Grants: h.grants, Events: s.eventPages(ctx, f, first),
	}, nil
}

// eventPages yields the events of page, then of the pages of f (in
// (At, ID) order) that follow it, one page read at a time.
func (s *Service) eventPages(ctx context.Context, f AuditFilter, page []AuditEvent) iter.Seq2[AuditEvent, error] {
	return func(yield func(AuditEvent, error) bool) {
		for {
			for _, e := range page {
				if !yield(ownView(e), nil) {
					return
				}
			}
			if len(page) < f.Limit {
				return
			}
			last := page[len(page)-1]
			f.BeforeAt, f.BeforeID = last.At, last.ID
			var err error
			if page, err = s.audit.Events(ctx, f); err != nil {
				yield(AuditEvent{}, err)
				return
			}
		}
	}
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
