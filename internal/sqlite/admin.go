package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// listUsers is List's statement: every filter is NULL when unused.
// created_at is text of createdLayout, which sorts and compares as time.
const listUsers = `
	SELECT ` + userColumns + ` FROM users
	WHERE (?1 IS NULL OR lower(email) LIKE lower(?1) ESCAPE '\')
	  AND (?2 IS NULL OR lower(username) LIKE lower(?2) ESCAPE '\')
	  AND (?3 IS NULL OR is_active = ?3)
	  AND (?4 IS NULL OR role = ?4)
	  AND (?5 IS NULL OR created_at > ?5)
	  AND (?6 IS NULL OR created_at < ?6)
	  AND (?7 IS NULL OR (created_at, id) > (?7, ?8))
`

// listOrder ends listUsers.
const listOrder = `
	ORDER BY created_at, id
	LIMIT ?9`

// The prefix conditions, added to listUsers only when searched (an
// "?n IS NULL OR" form would keep SQLite from the index): the search as a
// range the unique indexes on lower(email) and lower(username) answer
// (SQLite cannot use an index for LIKE on an expression). Byte-wise, every
// string starting with the lowered prefix sorts from it to it followed by
// U+10FFFF. The LIKE stays the exact test.
const (
	emailPrefix    = ` AND lower(email) >= lower(?10) AND lower(email) < lower(?10) || char(1114111)`
	usernamePrefix = ` AND lower(username) >= lower(?11) AND lower(username) < lower(?11) || char(1114111)`
)

// The search conditions, added to listUsers only when searched.
// searchText is user.SearchText in SQL (LIKE folds ASCII letters only,
// as user.FoldASCII does); searchLike is the exact test, its pattern ?12.
// searchMatch adds the trigram index of migration 00014, ?13 being an FTS5
// phrase of user.SearchPattern: it finds a superset of the matches (FTS5
// folds the case of every letter), which searchLike narrows. A pattern of
// fewer than three characters (a one-character search, preceded by
// user.SearchSeparator) has no trigram: then searchLike alone, on users
// walked in listing order, which stops at the page's end (such a search
// matches the start of a field, so pages fill quickly); so too for a
// search that matches many users (commonMatches).
const (
	searchText  = `char(1) || email || char(1) || username || char(1) || coalesce(full_name, '')`
	searchLike  = ` AND ` + searchText + ` LIKE ?12 ESCAPE '\'`
	searchMatch = ` AND id IN (SELECT r.user_id FROM users_search s JOIN users_search_rows r ON r.row = s.rowid
		WHERE users_search MATCH ?13)`
)

// createdLayout is how users.created_at is kept: milliseconds, UTC.
const createdLayout = "2006-01-02T15:04:05.000Z"

// List returns up to q.Limit users matching q, after q.After, in
// (created_at, id) order.
func (s *Users) List(ctx context.Context, q user.ListQuery) ([]user.User, error) {
	common := false
	if phrase, ok := searchPhrase(q.Search); ok {
		var n int
		if err := s.readRow(ctx, countMatches, phrase, commonMatches).Scan(&n); err != nil {
			return nil, translate(err, "list users")
		}
		common = n >= commonMatches
	}
	stmt, args := listQuery(q, common)
	rows, err := s.readRows(ctx, stmt, args...)
	if err != nil {
		return nil, translate(err, "list users")
	}
	defer rows.Close()
	var users []user.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list users")
	}
	return users, nil
}

// A search is answered one of two ways. The trigram index finds its
// matches, which are then sorted into listing order: its cost grows with
// the number of matches. Walking users in listing order, testing each,
// until the page is full costs the number of users walked, about a page's
// worth divided by the fraction of users that match. For a million users
// the two cost the same at a few thousand matches (the sort and lookups of
// a match cost about three tests of a walk): List counts the matches up to
// commonMatches (countMatches, which stops there) and walks when there
// are that many. A common part (a mail domain) then costs about as much
// as a rare one (a person's name).
const (
	commonMatches = 4096
	countMatches  = `SELECT count(*) FROM (SELECT 1 FROM users_search WHERE users_search MATCH ?1 LIMIT ?2)`
)

// searchPhrase is the FTS5 query of the trigram index for the search s,
// and false when it has none (no search, or a pattern shorter than a
// trigram).
func searchPhrase(s string) (string, bool) {
	p := user.SearchPattern(s)
	if s == "" || utf8.RuneCountInString(p) < user.SearchMinRunes {
		return "", false
	}
	return `"` + strings.ReplaceAll(p, `"`, `""`) + `"`, true
}

// listQuery is List's statement for q and its arguments; common walks
// users in listing order for a search instead of using its index.
func listQuery(q user.ListQuery, common bool) (string, []any) {
	var after, afterID any
	if q.After != nil {
		after, afterID = q.After.CreatedAt.UTC().Format(createdLayout), q.After.ID
	}
	// created_at has millisecond precision: c > t exactly when c > t cut to
	// the millisecond, and c < t exactly when c < t rounded up to one.
	var from, to any
	if !q.CreatedAfter.IsZero() {
		from = q.CreatedAfter.UTC().Truncate(time.Millisecond).Format(createdLayout)
	}
	if !q.CreatedBefore.IsZero() {
		t := q.CreatedBefore.UTC()
		if c := t.Truncate(time.Millisecond); !c.Equal(t) {
			t = c.Add(time.Millisecond)
		}
		to = t.Format(createdLayout)
	}
	var role any
	if q.Role != nil {
		role = string(*q.Role)
	}
	stmt := listUsers
	if q.EmailPrefix != "" {
		stmt += emailPrefix
	}
	if q.UsernamePrefix != "" {
		stmt += usernamePrefix
	}
	var like, match any
	if q.Search != "" {
		like = "%" + escapeLike(user.SearchPattern(q.Search)) + "%"
		stmt += searchLike
		if phrase, ok := searchPhrase(q.Search); ok && !common {
			match = phrase
			stmt += searchMatch
		}
	}
	return stmt + listOrder, []any{likePrefix(q.EmailPrefix), likePrefix(q.UsernamePrefix),
		q.IsActive, role, from, to, after, afterID, q.Limit, nullText(q.EmailPrefix), nullText(q.UsernamePrefix), like, match}
}

// nullText is s, or nil (NULL) when it is empty.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// likePrefix is a LIKE pattern (escaped with '\') matching what starts with
// prefix, or nil for an empty prefix.
func likePrefix(prefix string) any {
	if prefix == "" {
		return nil
	}
	return escapeLike(prefix) + "%"
}

// escapeLike makes every character of s literal in a LIKE pattern escaped
// with '\\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// updateKeepingAdmin is Update of a patch that removes an administrator,
// refused with ErrLastAdmin when it would remove the last active one. The
// check and the change run in one immediate transaction on the single
// writer connection, so no other write comes between them.
func (s *Users) updateKeepingAdmin(ctx context.Context, id uuid.UUID, p user.Patch) (user.User, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	var u user.User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := lastAdmin(ctx, tx, id); err != nil {
			return err
		}
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, updateUser, updateArgs(id, p)...))
		return err
	})
	if errors.Is(err, user.ErrLastAdmin) {
		return user.User{}, user.ErrLastAdmin
	}
	if err != nil {
		return user.User{}, translate(err, "update user")
	}
	return u, nil
}

// Delete removes the user (and, through the foreign keys, its sessions,
// refresh tokens and account tokens) with what it gave the OpenID
// provider (its consents, its grants and their refresh tokens, which no
// foreign key ties to it), refused with ErrLastAdmin when it is the last
// active administrator, checked in the same transaction.
func (s *Users) Delete(ctx context.Context, id uuid.UUID) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := lastAdmin(ctx, tx, id); err != nil {
			return err
		}
		const provider = `
			DELETE FROM oidc_consents WHERE user_id = ?1;
			DELETE FROM oidc_grants WHERE user_id = ?1`
		if _, err := tx.ExecContext(ctx, provider, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return affectedOne(res, nil, "delete user")
	})
	switch {
	case errors.Is(err, user.ErrLastAdmin):
		return user.ErrLastAdmin
	case errors.Is(err, user.ErrNotFound):
		return user.ErrNotFound
	case err != nil:
		return translate(err, "delete user")
	}
	return nil
}

// lastAdmin returns ErrLastAdmin when id is an active administrator and no
// other is.
func lastAdmin(ctx context.Context, tx *sql.Tx, id uuid.UUID) error {
	const q = `
		SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND role = 'admin' AND is_active = 1),
		       EXISTS (SELECT 1 FROM users WHERE id <> ?1 AND role = 'admin' AND is_active = 1)`
	var isAdmin, others bool
	if err := tx.QueryRowContext(ctx, q, id).Scan(&isAdmin, &others); err != nil {
		return err
	}
	if isAdmin && !others {
		return user.ErrLastAdmin
	}
	return nil
}
