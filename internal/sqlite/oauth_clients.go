package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
)

// OAuthClients returns the store of the OAuth client registry
// (migrations/00017_oauth_clients.sql).
func (s *DB) OAuthClients() oauthclient.Store { return &OAuthClients{conn{db: s}} }

// OAuthClientTx returns the registry's oauthclient.Transactor: a change of
// a client and its audit event in one transaction.
func (s *DB) OAuthClientTx() oauthclient.Transactor { return &oauthClientTx{conn{db: s}} }

// OAuthClients is the SQLite oauthclient.Store, on the database or,
// inside oauthClientTx.Atomic, on its transaction.
type OAuthClients struct{ c conn }

var _ oauthclient.Store = (*OAuthClients)(nil)

const oauthClientColumns = `id, name, auth_method, secret_hash, redirect_uris, post_logout_redirect_uris,
	grant_types, scopes, first_party, created_at, updated_at, deleted_at, secret_rotated_at`

func scanOAuthClient(row interface{ Scan(...any) error }) (oauthclient.Client, error) {
	var c oauthclient.Client
	var redirects, logouts, grants, scopes, created, updated string
	var deleted, rotated sql.NullString
	err := row.Scan(&c.ID, &c.Name, &c.AuthMethod, &c.SecretHash, &redirects, &logouts, &grants, &scopes,
		&c.FirstParty, &created, &updated, &deleted, &rotated)
	if err != nil {
		return oauthclient.Client{}, err
	}
	c.RedirectURIs, c.PostLogoutRedirectURIs = fieldsOf(redirects), fieldsOf(logouts)
	c.Grants, c.Scopes = fieldsOf(grants), fieldsOf(scopes)
	err = parseHookTimes(hookText(created, &c.CreatedAt), hookText(updated, &c.UpdatedAt), hookNullable(deleted, &c.DeletedAt),
		hookNullable(rotated, &c.SecretRotatedAt))
	return c, err
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
	if errors.Is(err, sql.ErrNoRows) {
		return oauthclient.ErrNotFound
	}
	if e, ok := errors.AsType[*modernc.Error](err); ok &&
		(e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE) &&
		strings.Contains(e.Error(), "oauth_clients.id") {
		return oauthclient.ErrExists
	}
	return translate(err, op)
}

// Create stores c.
func (s *OAuthClients) Create(ctx context.Context, c oauthclient.Client) error {
	ctx, cancel := s.c.wait(ctx)
	defer cancel()
	const q = `INSERT INTO oauth_clients (` + oauthClientColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := s.c.exec(ctx, q, c.ID, c.Name, c.AuthMethod, c.SecretHash,
		strings.Join(c.RedirectURIs, " "), strings.Join(c.PostLogoutRedirectURIs, " "),
		strings.Join(c.Grants, " "), strings.Join(c.Scopes, " "), c.FirstParty,
		hookTime(c.CreatedAt), hookTime(c.UpdatedAt), nullHookTime(c.DeletedAt), nullHookTime(c.SecretRotatedAt))
	return translateClient(err, "create oauth client")
}

// Client returns the client id, unless it is deleted.
func (s *OAuthClients) Client(ctx context.Context, id string) (oauthclient.Client, error) {
	const q = `SELECT ` + oauthClientColumns + ` FROM oauth_clients WHERE id = ? AND deleted_at IS NULL`
	c, err := scanOAuthClient(s.c.readRow(ctx, q, id))
	if err != nil {
		return oauthclient.Client{}, translateClient(err, "read oauth client")
	}
	return c, nil
}

// List returns the clients not deleted, oldest first.
func (s *OAuthClients) List(ctx context.Context) ([]oauthclient.Client, error) {
	const q = `SELECT ` + oauthClientColumns + ` FROM oauth_clients WHERE deleted_at IS NULL ORDER BY created_at, id`
	rows, err := s.c.readRows(ctx, q)
	if err != nil {
		return nil, translate(err, "list oauth clients")
	}
	defer rows.Close()
	out := []oauthclient.Client{}
	for rows.Next() {
		c, err := scanOAuthClient(rows)
		if err != nil {
			return nil, translate(err, "list oauth clients")
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list oauth clients")
	}
	return out, nil
}

// Save replaces the client c.ID by c, all but its creation and deletion.
func (s *OAuthClients) Save(ctx context.Context, c oauthclient.Client) error {
	ctx, cancel := s.c.wait(ctx)
	defer cancel()
	const q = `
		UPDATE oauth_clients SET name = ?, auth_method = ?, secret_hash = ?, redirect_uris = ?,
			post_logout_redirect_uris = ?, grant_types = ?, scopes = ?, first_party = ?, updated_at = ?,
			secret_rotated_at = ?
		WHERE id = ? AND deleted_at IS NULL`
	res, err := s.c.exec(ctx, q, c.Name, c.AuthMethod, c.SecretHash,
		strings.Join(c.RedirectURIs, " "), strings.Join(c.PostLogoutRedirectURIs, " "),
		strings.Join(c.Grants, " "), strings.Join(c.Scopes, " "), c.FirstParty, hookTime(c.UpdatedAt),
		nullHookTime(c.SecretRotatedAt), c.ID)
	return clientAffected(res, err, "save oauth client")
}

// Delete marks the client id deleted at at.
func (s *OAuthClients) Delete(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := s.c.wait(ctx)
	defer cancel()
	const q = `UPDATE oauth_clients SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL`
	res, err := s.c.exec(ctx, q, hookTime(at), hookTime(at), id)
	return clientAffected(res, err, "delete oauth client")
}

// clientAffected is ErrNotFound when res changed no row.
func clientAffected(res sql.Result, err error, op string) error {
	if err != nil {
		return translateClient(err, op)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err, op)
	}
	if n == 0 {
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
