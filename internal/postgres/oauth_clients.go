package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
)

// OAuthClients returns the store of the OAuth client registry
// (migrations/00017_oauth_clients.sql).
func (s *DB) OAuthClients() oauthclient.Store { return &OAuthClients{conn{db: s, q: s.pool}} }

// OAuthClientTx returns the registry's oauthclient.Transactor: a change of
// a client and its audit event in one transaction.
func (s *DB) OAuthClientTx() oauthclient.Transactor { return &oauthClientTx{conn{db: s, q: s.pool}} }

// OAuthClients is the PostgreSQL oauthclient.Store, on the pool or,
// inside oauthClientTx.Atomic, on its transaction.
type OAuthClients struct{ c conn }

var _ oauthclient.Store = (*OAuthClients)(nil)

const oauthClientColumns = `id, name, auth_method, secret_hash, redirect_uris, post_logout_redirect_uris,
	grant_types, scopes, first_party, created_at, updated_at, deleted_at, secret_rotated_at`

// oauthClientsKey is the primary key's constraint: a taken id.
const oauthClientsKey = "oauth_clients_pkey"

func scanOAuthClient(row pgx.Row) (oauthclient.Client, error) {
	var c oauthclient.Client
	var redirects, logouts, grants, scopes string
	var deleted, rotated pgtype.Timestamptz
	err := row.Scan(&c.ID, &c.Name, &c.AuthMethod, &c.SecretHash, &redirects, &logouts, &grants, &scopes,
		&c.FirstParty, &c.CreatedAt, &c.UpdatedAt, &deleted, &rotated)
	if err != nil {
		return oauthclient.Client{}, err
	}
	c.RedirectURIs, c.PostLogoutRedirectURIs = fieldsOf(redirects), fieldsOf(logouts)
	c.Grants, c.Scopes = fieldsOf(grants), fieldsOf(scopes)
	c.CreatedAt, c.UpdatedAt, c.DeletedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), fromNull(deleted)
	c.SecretRotatedAt = fromNull(rotated)
	return c, nil
}

// fieldsOf splits a space-separated column, never nil.
func fieldsOf(s string) []string {
	if f := strings.Fields(s); f != nil {
		return f
	}
	return []string{}
}

// translateClient maps no row to ErrNotFound, a taken id to ErrExists,
// and wraps the rest.
func translateClient(err error, op string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return oauthclient.ErrNotFound
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == uniqueViolation && pgErr.ConstraintName == oauthClientsKey {
		return oauthclient.ErrExists
	}
	return translate(err, op)
}

// Create stores c.
func (s *OAuthClients) Create(ctx context.Context, c oauthclient.Client) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `INSERT INTO oauth_clients (` + oauthClientColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	_, err := s.c.q.Exec(ctx, q, c.ID, c.Name, c.AuthMethod, c.SecretHash,
		strings.Join(c.RedirectURIs, " "), strings.Join(c.PostLogoutRedirectURIs, " "),
		strings.Join(c.Grants, " "), strings.Join(c.Scopes, " "), c.FirstParty, c.CreatedAt, c.UpdatedAt, nullTime(c.DeletedAt),
		nullTime(c.SecretRotatedAt))
	return translateClient(err, "create oauth client")
}

// Client returns the client id, unless it is deleted.
func (s *OAuthClients) Client(ctx context.Context, id string) (oauthclient.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT ` + oauthClientColumns + ` FROM oauth_clients WHERE id = $1 AND deleted_at IS NULL`
	c, err := scanOAuthClient(s.c.q.QueryRow(ctx, q, id))
	if err != nil {
		return oauthclient.Client{}, translateClient(err, "read oauth client")
	}
	return c, nil
}

// List returns the clients not deleted, oldest first.
func (s *OAuthClients) List(ctx context.Context) ([]oauthclient.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT ` + oauthClientColumns + ` FROM oauth_clients WHERE deleted_at IS NULL ORDER BY created_at, id`
	rows, err := s.c.q.Query(ctx, q)
	if err != nil {
		return nil, translate(err, "list oauth clients")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (oauthclient.Client, error) { return scanOAuthClient(r) })
	if err != nil {
		return nil, translate(err, "list oauth clients")
	}
	return out, nil
}

// Save replaces the client c.ID by c, all but its creation and deletion.
func (s *OAuthClients) Save(ctx context.Context, c oauthclient.Client) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		UPDATE oauth_clients SET name = $2, auth_method = $3, secret_hash = $4, redirect_uris = $5,
			post_logout_redirect_uris = $6, grant_types = $7, scopes = $8, first_party = $9, updated_at = $10,
			secret_rotated_at = $11
		WHERE id = $1 AND deleted_at IS NULL`
	tag, err := s.c.q.Exec(ctx, q, c.ID, c.Name, c.AuthMethod, c.SecretHash,
		strings.Join(c.RedirectURIs, " "), strings.Join(c.PostLogoutRedirectURIs, " "),
		strings.Join(c.Grants, " "), strings.Join(c.Scopes, " "), c.FirstParty, c.UpdatedAt, nullTime(c.SecretRotatedAt))
	if err != nil {
		return translateClient(err, "save oauth client")
	}
	if tag.RowsAffected() == 0 {
		return oauthclient.ErrNotFound
	}
	return nil
}

// Delete marks the client id deleted at at.
func (s *OAuthClients) Delete(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `UPDATE oauth_clients SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL`
	tag, err := s.c.q.Exec(ctx, q, id, at)
	if err != nil {
		return translateClient(err, "delete oauth client")
	}
	if tag.RowsAffected() == 0 {
		return oauthclient.ErrNotFound
	}
	return nil
}

// oauthClientTx is the oauthclient.Transactor: the registry and the audit
// log on one transaction, Transactor.Atomic's, so that an administrator's
// change of a client and its audit event are committed together or not at
// all.
type oauthClientTx struct{ c conn }

var _ oauthclient.Transactor = (*oauthClientTx)(nil)

// Atomic implements oauthclient.Transactor.
func (t *oauthClientTx) Atomic(ctx context.Context, fn func(oauthclient.Store, user.AuditLog) error) error {
	return (&Transactor{t.c}).atomic(ctx, func(c conn) error { return fn(&OAuthClients{c}, &Audit{c}) })
}
