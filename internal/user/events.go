package user

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/event"
)

// atomic runs fn as Stores.Tx.Atomic does, with an Outbox in the Stores fn
// receives: the store's queue, or, for a store without one, a list of the
// mail fn queues, handed to the Notifier once the change commits (events
// are then dropped: nothing consumes them).
func (s *Service) atomic(ctx context.Context, fn func(tx Stores) error) error {
	var later *laterOutbox
	err := s.stores.Tx.Atomic(ctx, func(tx Stores) error {
		if tx.Outbox == nil {
			later = &laterOutbox{}
			tx.Outbox = later
		}
		return fn(tx)
	})
	if err != nil || later == nil {
		return err
	}
	for _, m := range later.mails {
		s.send(ctx, m)
	}
	return nil
}

// laterOutbox collects a transaction's mail for after its commit.
type laterOutbox struct{ mails []Mail }

func (l *laterOutbox) Mail(_ context.Context, m Mail) error {
	l.mails = append(l.mails, m)
	return nil
}

func (l *laterOutbox) Emit(context.Context, event.Event) error { return nil }

// mails reports whether account mail goes anywhere: without, no mailed
// token is made.
func (s *Service) mails() bool { return s.notifier != nil || s.stores.Outbox != nil }

// queueMail queues m in tx (see atomic).
func (s *Service) queueMail(ctx context.Context, tx Stores, m Mail) error {
	if tx.Outbox == nil { // a Stores not from atomic: send at once
		s.send(ctx, m)
		return nil
	}
	if err := tx.Outbox.Mail(ctx, m); err != nil {
		return fmt.Errorf("queue %s mail: %w", m.Kind, err)
	}
	return nil
}

// emit queues an event of typ about subject with data in tx.
func (s *Service) emit(ctx context.Context, tx Stores, typ string, subject uuid.UUID, data any) error {
	if tx.Outbox == nil || subject == uuid.Nil {
		return nil
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("event %s: %w", typ, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("event id: %w", err)
	}
	e := event.Event{ID: id.String(), Type: typ, Time: s.now(), Subject: subject, Data: raw}
	if err := tx.Outbox.Emit(ctx, e); err != nil {
		return fmt.Errorf("queue event %s: %w", typ, err)
	}
	return nil
}

// publish emits, in tx, the event of the catalogue that the audit event a
// records (most changes audited in their transaction have one): one
// place maps the audit log to the events, so a change audited is a change
// announced.
func (s *Service) publish(ctx context.Context, tx Stores, a AuditEvent) error {
	if tx.Outbox == nil || a.SubjectID == uuid.Nil {
		return nil
	}
	snapshot := func() (event.UserData, error) {
		u, err := tx.Users.ByID(ctx, a.SubjectID)
		if err != nil {
			return event.UserData{}, fmt.Errorf("event of %s: %w", a.Kind, err)
		}
		return eventUser(u), nil
	}
	session := func() event.SessionData {
		id, _ := uuid.Parse(a.Detail["session_id"])
		return event.SessionData{SessionID: id, All: a.Detail["scope"] == "all"}
	}
	var typ string
	var data any
	switch a.Kind {
	case AuditRegistered, AuditEmailVerified, AuditDeactivated, AuditReactivated, AuditProfileUpdated, AuditRoleChanged:
		u, err := snapshot()
		if err != nil {
			return err
		}
		typ, data = accountEvent(a, u)
	case AuditPasswordChanged:
		how := "changed"
		if a.Detail["by"] == "operator" {
			how = "set_by_operator"
		}
		typ, data = event.UserPasswordChanged, event.PasswordChangedData{How: how}
	case AuditResetCompleted:
		typ, data = event.UserPasswordChanged, event.PasswordChangedData{How: "reset"}
	case AuditDeleted:
		typ, data = event.UserDeleted, event.DeletedData{ID: a.SubjectID}
	case AuditLoginSucceeded:
		typ, data = event.SessionCreated, session()
	case AuditLoggedOut, AuditSessionRevoked, AuditRefreshReused:
		if a.Detail["scope"] == "others" {
			return nil // endOthers named each session that ended
		}
		typ, data = event.SessionRevoked, session()
	case AuditAppConsentRevoked:
		typ, data = event.AppConsentRevoked, event.ConsentData{ClientID: a.Detail["app_client_id"], ClientName: a.Detail["app_name"]}
	default:
		return nil
	}
	return s.emit(ctx, tx, typ, a.SubjectID, data)
}

// accountEvent is the event type and data of a, an audited change of the
// account u (as it is after the change).
func accountEvent(a AuditEvent, u event.UserData) (string, any) {
	switch a.Kind {
	case AuditProfileUpdated:
		return event.UserUpdated, event.UpdatedData{User: u, Fields: strings.Split(a.Detail["fields"], ",")}
	case AuditRoleChanged:
		return event.UserRoleChanged, event.RoleChangedData{User: u, PreviousRole: a.Detail["from"]}
	}
	return map[AuditKind]string{
		AuditRegistered: event.UserCreated, AuditEmailVerified: event.UserEmailVerified,
		AuditDeactivated: event.UserDeactivated, AuditReactivated: event.UserReactivated,
	}[a.Kind], u
}

// emailMoved emits user.email_changed for the change of u's email from
// previous, in tx.
func (s *Service) emailMoved(ctx context.Context, tx Stores, u User, previous string) error {
	return s.emit(ctx, tx, event.UserEmailChanged, u.ID, event.EmailChangedData{User: eventUser(u), PreviousEmail: previous})
}

// eventUser is u as events show it: no hash, no token version, no trusted
// address.
func eventUser(u User) event.UserData {
	return event.UserData{
		ID: u.ID, Email: u.Email, Username: u.Username, FullName: u.FullName,
		Role: string(u.Role), IsActive: u.IsActive, EmailVerified: u.EmailVerified,
	}
}

// endOthers ends, in tx, every session of userID but except, and its
// logins waiting for a second step (endSessions), and emits a
// session.revoked naming each session that was active: a consumer that
// mirrors sessions learns exactly which ended, and that except did not.
func (s *Service) endOthers(ctx context.Context, tx Stores, userID, except uuid.UUID, now time.Time) error {
	if err := holdAccount(ctx, tx, userID); err != nil { // before listing what it ends
		return err
	}
	active, err := tx.Sessions.Active(ctx, userID, now, SessionPage{})
	if err != nil {
		return err
	}
	if err := s.endHeldSessions(ctx, tx, userID, except, now); err != nil {
		return err
	}
	for _, sess := range active {
		if sess.ID == except {
			continue
		}
		if err := s.emit(ctx, tx, event.SessionRevoked, userID, event.SessionData{SessionID: sess.ID}); err != nil {
			return err
		}
	}
	return nil
}

// allEnded emits, in tx, the session.revoked with all of a change that
// ended every session of userID in its own way (a password reset, the undo
// of an email change): consumers end theirs, an attacker's among them.
func (s *Service) allEnded(ctx context.Context, tx Stores, userID uuid.UUID) error {
	return s.emit(ctx, tx, event.SessionRevoked, userID, event.SessionData{All: true})
}
