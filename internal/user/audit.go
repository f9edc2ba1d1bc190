package user

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// AuditKind names a security event.
type AuditKind string

// The security events the service records.
const (
	AuditRegistered       AuditKind = "user.registered"
	AuditLoginSucceeded   AuditKind = "login.succeeded"
	AuditLoginFailed      AuditKind = "login.failed"
	AuditLoggedOut        AuditKind = "session.logged_out"
	AuditSessionRevoked   AuditKind = "session.revoked"
	AuditRefreshReused    AuditKind = "session.refresh_reused"
	AuditProfileUpdated   AuditKind = "user.updated"
	AuditPasswordChanged  AuditKind = "password.changed"
	AuditResetRequested   AuditKind = "password.reset_requested"
	AuditResetCompleted   AuditKind = "password.reset_completed"
	AuditVerificationSent AuditKind = "email.verification_sent"
	AuditEmailVerified    AuditKind = "email.verified"
	AuditDeactivated      AuditKind = "user.deactivated"
	AuditReactivated      AuditKind = "user.reactivated"
	AuditRoleChanged      AuditKind = "user.role_changed"
	AuditDeleted          AuditKind = "user.deleted"
	AuditAdminCreated     AuditKind = "admin.created"
	AuditDataExported     AuditKind = "user.data_exported"
)

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

// AuditLog appends security events. Appending is all a service may do:
// the stores refuse to change or delete an event.
type AuditLog interface {
	AppendAudit(ctx context.Context, e AuditEvent) error
}

// WithAuditLog records every security event in log. A failed append does
// not fail the request (the change it records has happened); it is handed
// to failed, which should log it loudly.
func WithAuditLog(log AuditLog, failed func(ctx context.Context, err error)) Option {
	return func(s *Service) { s.audit, s.auditFailed = log, failed }
}

// record appends an event of kind by actor about subject, with the
// client of WithClient and the service's clock. Without an audit log it
// does nothing.
func (s *Service) record(ctx context.Context, kind AuditKind, actor, subject uuid.UUID, detail map[string]string) {
	if s.audit == nil {
		return
	}
	c := clientOf(ctx)
	e := AuditEvent{
		At: s.now(), Kind: kind, ActorID: actor, SubjectID: subject,
		IP: c.IP, UserAgent: truncate(c.UserAgent, MaxUserAgent), RequestID: c.RequestID, Detail: detail,
	}
	if err := s.audit.AppendAudit(ctx, e); err != nil && s.auditFailed != nil {
		s.auditFailed(ctx, err)
	}
}
