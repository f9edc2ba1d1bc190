package oauthclient_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// auditDB is what the test needs of a database: its client registry with
// its transactions, its audit log, and a way to make it refuse the client
// audit events.
type auditDB struct {
	deps   oauthclient.Deps
	refuse storetest.AuditRefuser
}

func auditDBs() map[string]func(t *testing.T) auditDB {
	return map[string]func(t *testing.T) auditDB{
		"sqlite": func(t *testing.T) auditDB {
			db := storetest.SQLite(t)
			d := oauthclient.Deps{Store: db.OAuthClients(), Tx: db.OAuthClientTx(), Audit: db.Stores().Audit}
			return auditDB{d, storetest.RefuseAuditSQLite(t, db, "oauth_client.")}
		},
		"postgres": func(t *testing.T) auditDB {
			db := storetest.Postgres(t)
			d := oauthclient.Deps{Store: db.OAuthClients(), Tx: db.OAuthClientTx(), Audit: db.Stores().Audit}
			return auditDB{d, storetest.RefuseAuditPostgres(t, db, "oauth_client.")}
		},
	}
}

// TestClientChangesAreAuditedInTheirTransaction: an administrator's change
// of a client (create, update, rotate the secret, delete) and its audit
// event are one transaction, on both databases. They were two: when the
// database refused the event, the change stood unaudited (a secret rotated
// or a client widened with no trace but a log line). Now the change is not
// made either, and the caller gets the error.
func TestClientChangesAreAuditedInTheirTransaction(t *testing.T) {
	for kind, open := range auditDBs() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := open(t)
			svc := oauthclient.NewService(db.deps)
			c, _, err := svc.Create(ctx, oauthclient.Operator(), oauthclient.NewClient{
				Name: "kept", Confidential: true, Grants: []string{oauthclient.GrantClientCredentials},
				Scopes: []string{oauthclient.ScopeUsersRead},
			})
			if err != nil {
				t.Fatal(err)
			}
			recorded := func(k user.AuditKind) int {
				t.Helper()
				evs, err := db.deps.Audit.Events(ctx, user.AuditFilter{Kinds: []user.AuditKind{k}, Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				return len(evs)
			}
			if n := recorded(oauthclient.AuditCreated); n != 1 {
				t.Fatalf("%d oauth_client.created events after a creation, want 1", n)
			}

			db.refuse(true)
			if _, _, err := svc.Create(ctx, oauthclient.Operator(), oauthclient.NewClient{Name: "new", Confidential: true,
				Grants: []string{oauthclient.GrantClientCredentials}}); err == nil {
				t.Error("Create with its audit event refused: no error")
			}
			if cs, err := db.deps.Store.List(ctx); err != nil || len(cs) != 1 {
				t.Errorf("after a creation whose audit event was refused: %d clients (%v), want 1", len(cs), err)
			}
			widened := []string{oauthclient.ScopeUsersRead, oauthclient.ScopeUsersWrite}
			if _, err := svc.Update(ctx, oauthclient.Operator(), c.ID, oauthclient.Patch{Scopes: &widened}); err == nil {
				t.Error("Update with its audit event refused: no error")
			}
			if _, _, err := svc.RotateSecret(ctx, oauthclient.Operator(), c.ID); err == nil {
				t.Error("RotateSecret with its audit event refused: no error")
			}
			if err := svc.Delete(ctx, oauthclient.Operator(), c.ID); err == nil {
				t.Error("Delete with its audit event refused: no error")
			}
			got, err := db.deps.Store.Client(ctx, c.ID)
			if err != nil {
				t.Fatalf("the client after a deletion whose audit event was refused: %v", err)
			}
			if len(got.Scopes) != 1 || string(got.SecretHash) != string(c.SecretHash) || !got.SecretRotatedAt.IsZero() {
				t.Errorf("the client changed although its audit events were refused: scopes %v, secret rotated %v",
					got.Scopes, string(got.SecretHash) != string(c.SecretHash))
			}

			db.refuse(false)
			if err := svc.Delete(ctx, oauthclient.Operator(), c.ID); err != nil {
				t.Fatal(err)
			}
			if n := recorded(oauthclient.AuditDeleted); n != 1 {
				t.Errorf("%d oauth_client.deleted events after a deletion, want 1", n)
			}
			for _, k := range []user.AuditKind{oauthclient.AuditUpdated, oauthclient.AuditSecretRotated} {
				if n := recorded(k); n != 0 {
					t.Errorf("%d %s events, want none: the changes were refused", n, k)
				}
			}
		})
	}
}
