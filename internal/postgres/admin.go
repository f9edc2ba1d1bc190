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

// listUsers is List's statement: every filter is NULL when unused. A
// prefix search adds prefixRange.
const listUsers = `
	SELECT ` + userColumns + ` FROM users
	WHERE ($1::text IS NULL OR lower(email) LIKE lower($1::text) ESCAPE '\')
	  AND ($2::text IS NULL OR lower(username) LIKE lower($2::text) ESCAPE '\')
	  AND ($3::boolean IS NULL OR is_active = $3::boolean)
	  AND ($4::text IS NULL OR role = $4::text)
	  AND ($5::timestamptz IS NULL OR created_at > $5::timestamptz)
	  AND ($6::timestamptz IS NULL OR created_at < $6::timestamptz)
	  AND ($7::timestamptz IS NULL OR (created_at, id) > ($7::timestamptz, $8::uuid))
`

// listOrder ends listUsers.
const listOrder = `
	ORDER BY created_at, id
	LIMIT $9`

// prefixRange is a prefix condition of migration 00012 on col (a constant
// of this file), the prefix being parameter $n: a byte-wise range on
// lower(col) that the text_pattern_ops index answers under any collation
// and in a generic plan too. chr(1114111), U+10FFFF, sorts after every
// character, so the range holds exactly the strings that start with the
// lowered prefix. The LIKE of listUsers stays the exact test.
func prefixRange(col string, n int) string {
	p := `lower($` + strconv.Itoa(n) + `::text)`
	return ` AND lower(` + col + `) ~>=~ ` + p + ` AND lower(` + col + `) ~<~ (` + p + ` || chr(1114111))`
}

// List returns up to q.Limit users matching q, after q.After, in
// (created_at, id) order.
func (s *Users) List(ctx context.Context, q user.ListQuery) ([]user.User, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
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

// listQuery is List's statement for q and its arguments.
func listQuery(q user.ListQuery) (string, []any) {
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
	stmt := listUsers
	if q.EmailPrefix != "" {
		args = append(args, q.EmailPrefix)
		stmt += prefixRange("email", len(args))
	}
	if q.UsernamePrefix != "" {
		args = append(args, q.UsernamePrefix)
		stmt += prefixRange("username", len(args))
	}
	if q.Search != "" {
		args = append(args, "%"+escapeLike(user.SearchPattern(q.Search))+"%")
		stmt += searchCondition(len(args))
	}
	return stmt + listOrder, args
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
// refresh tokens and account tokens), refused with ErrLastAdmin when it is
// the last active administrator.
func (s *Users) Delete(ctx context.Context, id uuid.UUID) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	err := s.keepingAdmin(ctx, id, func(tx pgx.Tx) error {
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
