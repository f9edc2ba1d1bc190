package postgres

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/user"
)

// listFilter is the WHERE clause of a listing (listQuery): every filter
// is NULL when unused, its parameters $1 to $8. A prefix search adds
// prefixRange.
const listFilter = `
	WHERE ($1::text IS NULL OR lower(email) LIKE lower($1::text) ESCAPE '\')
	  AND ($2::text IS NULL OR lower(username) LIKE lower($2::text) ESCAPE '\')
	  AND ($3::boolean IS NULL OR is_active = $3::boolean)
	  AND ($4::text IS NULL OR role = $4::text)
	  AND ($5::timestamptz IS NULL OR created_at > $5::timestamptz)
	  AND ($6::timestamptz IS NULL OR created_at < $6::timestamptz)
	  AND ($7::timestamptz IS NULL OR (created_at, id) > ($7::timestamptz, $8::uuid))
`

// listOrder ends a listing.
const listOrder = `
	ORDER BY created_at, id
	LIMIT $9`

// prefixRange is a prefix condition of migration 00012 on col (a constant
// of this file), the prefix being parameter $n: a byte-wise range on
// lower(col) that the text_pattern_ops index answers under any collation
// and in a generic plan too. chr(1114111), U+10FFFF, sorts after every
// character, so the range holds exactly the strings that start with the
// lowered prefix. The LIKE of listFilter stays the exact test.
func prefixRange(col string, n int) string {
	p := `lower($` + strconv.Itoa(n) + `::text)`
	return ` AND lower(` + col + `) ~>=~ ` + p + ` AND lower(` + col + `) ~<~ (` + p + ` || chr(1114111))`
}

// List returns up to q.Limit users matching q, after q.After, in
// (created_at, id) order.
func (s *Users) List(ctx context.Context, q user.ListQuery) ([]user.User, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	if q.Search != "" && !s.inTx {
		return s.search(ctx, q)
	}
	stmt, args := listQuery(q)
	rows, err := s.q.Query(ctx, stmt, args...)
	if err != nil {
		return nil, translate(err, "list users")
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.User, error) { return scanUser(r) })
	if err != nil {
		return nil, translate(err, "list users")
	}
	return users, nil
}

// searchText is user.SearchText in SQL, the expression of the trigram
// index users_search_trgm of migration 00014, character for character.
const searchText = `translate(chr(1) || email || chr(1) || username || chr(1) || coalesce(full_name, ''), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`

// searchCondition is the condition of a search, its LIKE pattern being
// parameter $n: the trigram index answers it, exactly (the recheck of the
// bitmap scan is the LIKE itself).
func searchCondition(n int) string {
	return ` AND ` + searchText + ` LIKE $` + strconv.Itoa(n)
}

// A search is answered one of three ways. First it walks users in
// listing order, walkRows of them at most, testing each: a common part
// (a first name, a mail domain) fills the page within a few hundred users,
// and the trigram index, which builds the bitmap of every match before
// giving the first, is never read. When the walk does not fill the page,
// the part is rare near the start of the listing: then either through the
// trigram index, sorting the matches (cost: the matches), or walking on
// until the page is full (cost: a page divided by the fraction that
// matches). The planner's choice rests on its estimate of how many users
// match, which for LIKE '%part%' can be off by orders of magnitude (at a
// million users it walked the whole table for a rare surname and met the
// statement timeout). So search decides as the SQLite store does: it
// counts the matches through the index, up to commonMatches, and forces
// the way (for this transaction only) with the planner's settings.
const (
	walkRows      = 2048
	commonMatches = 4096
	countMatches  = `SELECT count(*) FROM (SELECT 1 FROM users WHERE ` + searchText + ` LIKE $1 LIMIT $2) AS m`
	// throughIndex leaves the planner only bitmap scans (the trigram index).
	throughIndex = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true)`
	// walking leaves it only index scans (users in listing order).
	walking = `SELECT set_config('enable_indexscan', 'on', true), set_config('enable_bitmapscan', 'off', true)`
)

// search answers q, a search, the cheapest way (see walkRows), in a
// read-only transaction of its own.
func (s *Users) search(ctx context.Context, q user.ListQuery) ([]user.User, error) {
	var users []user.User
	err := pgx.BeginTxFunc(ctx, s.db.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		stmt, args := walkQuery(q)
		var err error
		if users, err = collectUsers(tx.Query(ctx, stmt, args...)); err != nil || len(users) >= q.Limit {
			return err
		}
		stmt, args = listQuery(q)
		if _, err := tx.Exec(ctx, throughIndex); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, countMatches, args[len(args)-1], commonMatches).Scan(&n); err != nil {
			return err
		}
		if n >= commonMatches {
			if _, err := tx.Exec(ctx, walking); err != nil {
				return err
			}
		}
		users, err = collectUsers(tx.Query(ctx, stmt, args...))
		return err
	})
	if err != nil {
		return nil, translate(err, "list users")
	}
	return users, nil
}

// collectUsers reads the users of a query.
func collectUsers(rows pgx.Rows, err error) ([]user.User, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.User, error) { return scanUser(r) })
}

// searchFields is the text of user.SearchText before its letters are
// lowered.
const searchFields = `(chr(1) || email || chr(1) || username || chr(1) || coalesce(full_name, ''))`

// walkQuery is the statement of the first way of a search (see walkRows):
// the first walkRows users of q's listing but for the search, in order,
// then those matching the search, up to q.Limit. Each is tested first
// with searchRegexp, a tenth of the cost of translate() per user, then
// with the LIKE of the index, the definition, on those that pass.
func walkQuery(q user.ListQuery) (string, []any) {
	cond, args := listFilters(q)
	args = append(args, searchRegexp(user.SearchPattern(q.Search)), "%"+escapeLike(user.SearchPattern(q.Search))+"%")
	n := len(args)
	return `
	SELECT ` + userColumns + ` FROM (
		SELECT * FROM users` + cond + `
		ORDER BY created_at, id
		LIMIT ` + strconv.Itoa(walkRows) + `
	) AS walked
	WHERE ` + searchFields + ` ~ $` + strconv.Itoa(n-1) + searchCondition(n) + listOrder, args
}

// searchRegexp is a regular expression (PostgreSQL's advanced syntax)
// matching exactly the texts whose user.FoldASCII contains pattern, a
// folded text: each ASCII letter matches either case, every other
// character only itself (ASCII punctuation escaped).
func searchRegexp(pattern string) string {
	var b strings.Builder
	for _, r := range pattern {
		switch {
		case 'a' <= r && r <= 'z':
			b.WriteString("[" + string(r) + string(r-('a'-'A')) + "]")
		case '0' <= r && r <= '9', r >= 0x80:
			b.WriteRune(r)
		default:
			b.WriteByte('\\')
			b.WriteRune(r)
		}
	}
	return b.String()
}

// listQuery is List's statement for q and its arguments.
func listQuery(q user.ListQuery) (string, []any) {
	cond, args := listFilters(q)
	stmt := `
	SELECT ` + userColumns + ` FROM users` + cond
	if q.Search != "" {
		args = append(args, "%"+escapeLike(user.SearchPattern(q.Search))+"%")
		stmt += searchCondition(len(args))
	}
	return stmt + listOrder, args
}

// listFilters is the WHERE clause of q's filters but the search, and its
// arguments: listFilter's, q.Limit ($9), the prefixes'.
func listFilters(q user.ListQuery) (string, []any) {
	var after, afterID, from, to, role any
	if q.After != nil {
		after, afterID = q.After.CreatedAt, q.After.ID
	}
	// created_at has microsecond precision: c > t exactly when c > t cut to
	// the microsecond, and c < t exactly when c < t rounded up to one.
	if !q.CreatedAfter.IsZero() {
		from = q.CreatedAfter.Truncate(time.Microsecond)
	}
	if !q.CreatedBefore.IsZero() {
		t := q.CreatedBefore
		if c := t.Truncate(time.Microsecond); !c.Equal(t) {
			t = c.Add(time.Microsecond)
		}
		to = t
	}
	if q.Role != nil {
		role = string(*q.Role)
	}
	args := []any{likePrefix(q.EmailPrefix), likePrefix(q.UsernamePrefix), q.IsActive, role, from, to, after, afterID, q.Limit}
	cond := listFilter
	if q.EmailPrefix != "" {
		args = append(args, q.EmailPrefix)
		cond += prefixRange("email", len(args))
	}
	if q.UsernamePrefix != "" {
		args = append(args, q.UsernamePrefix)
		cond += prefixRange("username", len(args))
	}
	return cond, args
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
// with '\\' (LIKE's default).
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// updateKeepingAdmin is Update of a patch that removes an administrator,
// refused with ErrLastAdmin when it would remove the last active one. See
// keepingAdmin for how two concurrent calls are kept from both succeeding.
func (s *Users) updateKeepingAdmin(ctx context.Context, id uuid.UUID, p user.Patch) (user.User, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	var u user.User
	err := s.keepingAdmin(ctx, id, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, updateUser, updateArgs(id, p)...))
		return err
	})
	if err != nil {
		return user.User{}, translateAdmin(err, "update user")
	}
	return u, nil
}

// Delete removes the user (and, through the foreign keys, its sessions,
// refresh tokens and account tokens) with what it gave the OpenID
// provider (its consents, its grants and their refresh tokens, which no
// foreign key ties to it), refused with ErrLastAdmin when it is the last
// active administrator.
func (s *Users) Delete(ctx context.Context, id uuid.UUID) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	err := s.keepingAdmin(ctx, id, func(tx pgx.Tx) error {
		const provider = `
			WITH consents AS (DELETE FROM oidc_consents WHERE user_id = $1)
			DELETE FROM oidc_grants WHERE user_id = $1`
		if _, err := tx.Exec(ctx, provider, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			return user.ErrNotFound
		}
		return err
	})
	if err != nil {
		return translateAdmin(err, "delete user")
	}
	return nil
}

// keepingAdmin runs change on the user id in a transaction that first
// locks every active administrator's row, in id order (so two such
// transactions never deadlock), and returns ErrLastAdmin without running
// change when id is the only one. A concurrent transaction doing the same
// waits for the lock and then sees the committed change: an administrator
// demoted meanwhile no longer matches, so of two administrators demoting
// each other only the first succeeds.
func (s *Users) keepingAdmin(ctx context.Context, id uuid.UUID, change func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.q, func(tx pgx.Tx) error {
		const lock = `
			SELECT id FROM users WHERE role = 'admin' AND is_active
			ORDER BY id FOR NO KEY UPDATE`
		rows, err := tx.Query(ctx, lock)
		if err != nil {
			return err
		}
		admins, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		if len(admins) == 1 && slices.Contains(admins, id) {
			return user.ErrLastAdmin
		}
		return change(tx)
	})
}

// translateAdmin is translate that keeps the sentinels of keepingAdmin.
func translateAdmin(err error, op string) error {
	switch {
	case errors.Is(err, user.ErrLastAdmin):
		return user.ErrLastAdmin
	case errors.Is(err, user.ErrNotFound):
		return user.ErrNotFound
	}
	return translate(err, op)
}
