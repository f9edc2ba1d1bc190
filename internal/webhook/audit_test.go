package webhook_test

import (
	"crypto/rand"
	"testing"

	catalogue "github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/webhook"
)

// auditDB is what the test needs of a database: its webhook stores, its
// audit log, and a way to make it refuse the webhook audit events.
type auditDB struct {
	hooks  webhook.Stores
	audit  user.AuditLog
	refuse func(on bool)
}

func auditDBs() map[string]func(t *testing.T) auditDB {
	return map[string]func(t *testing.T) auditDB{
		"sqlite": func(t *testing.T) auditDB {
			db := storetest.SQLite(t)
			return auditDB{db.Webhooks(), db.Stores().Audit, storetest.RefuseAuditSQLite(t, db, "webhook.")}
		},
		"postgres": func(t *testing.T) auditDB {
			db := storetest.Postgres(t)
			return auditDB{db.Webhooks(), db.Stores().Audit, storetest.RefuseAuditPostgres(t, db, "webhook.")}
		},
	}
}

// TestAdminChangesAreAuditedInTheirTransaction: an administrator's change
// of an endpoint (create, update, rotate the secret, delete) and its audit
// event are one transaction, on both databases: when the database refuses
// the event, the change is not made either, and the caller gets the error;
// when it takes it, both are there.
func TestAdminChangesAreAuditedInTheirTransaction(t *testing.T) {
	for kind, open := range auditDBs() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := open(t)
			kek := make([]byte, 32)
			_, _ = rand.Read(kek)
			sealer, err := signing.NewSealer(kek, nil)
			if err != nil {
				t.Fatal(err)
			}
			svc := webhook.NewService(webhook.Deps{Stores: db.hooks, Audit: db.audit, Sealer: sealer}, webhook.Config{})
			e, _, err := svc.Create(ctx, webhook.Operator, webhook.NewEndpoint{
				URL: "https://hooks.example.com/a", Description: "kept", Types: []string{catalogue.UserCreated},
			})
			if err != nil {
				t.Fatal(err)
			}
			recorded := func(k user.AuditKind) int {
				t.Helper()
				evs, err := db.audit.Events(ctx, user.AuditFilter{Kinds: []user.AuditKind{k}, Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				return len(evs)
			}
			if n := recorded(webhook.AuditCreated); n != 1 {
				t.Fatalf("%d webhook.created events after a creation, want 1", n)
			}

			db.refuse(true)
			if _, _, err := svc.Create(ctx, webhook.Operator, webhook.NewEndpoint{
				URL: "https://hooks.example.com/b", Types: []string{catalogue.UserCreated},
			}); err == nil {
				t.Error("Create with its audit event refused: no error")
			}
			if es, err := db.hooks.Endpoints.ListEndpoints(ctx); err != nil || len(es) != 1 {
				t.Errorf("after a creation whose audit event was refused: %d endpoints (%v), want 1", len(es), err)
			}
			changed := "changed"
			if _, err := svc.Update(ctx, webhook.Operator, e.ID, webhook.EndpointPatch{Description: &changed}); err == nil {
				t.Error("Update with its audit event refused: no error")
			}
			if _, _, err := svc.RotateSecret(ctx, webhook.Operator, e.ID); err == nil {
				t.Error("RotateSecret with its audit event refused: no error")
			}
			if err := svc.Delete(ctx, webhook.Operator, e.ID); err == nil {
				t.Error("Delete with its audit event refused: no error")
			}
			got, err := db.hooks.Endpoints.Endpoint(ctx, e.ID)
			if err != nil {
				t.Fatalf("the endpoint after a deletion whose audit event was refused: %v", err)
			}
			if got.Description != "kept" || string(got.Secret) != string(e.Secret) || got.PreviousSecret != nil {
				t.Errorf("the endpoint changed although its audit events were refused: description %q, secret rotated %v",
					got.Description, string(got.Secret) != string(e.Secret))
			}

			db.refuse(false)
			if err := svc.Delete(ctx, webhook.Operator, e.ID); err != nil {
				t.Fatal(err)
			}
			if n := recorded(webhook.AuditDeleted); n != 1 {
				t.Errorf("%d webhook.deleted events after a deletion, want 1", n)
			}
			for _, k := range []user.AuditKind{webhook.AuditUpdated, webhook.AuditSecretRotated} {
				if n := recorded(k); n != 0 {
					t.Errorf("%d %s events, want none: the changes were refused", n, k)
				}
			}
		})
	}
}
