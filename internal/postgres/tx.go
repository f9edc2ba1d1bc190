package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usersvc/usersvc/internal/user"
)

// querier runs statements: the pool outside a transaction, the pgx.Tx of
// Transactor.Atomic inside one. Begin on a pgx.Tx makes a savepoint, so
// the methods that open a transaction of their own (Users.Delete,
// Sessions.AddRefreshToken, ...) run in a savepoint of Atomic's
// transaction instead: when they fail, they undo only their own changes.
// Those of one statement use undoable (execUndoable, queryRowUndoable),
// which does the same in one round trip.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	Begin(ctx context.Context) (pgx.Tx, error)
}

var (
	_ querier = (*pgxpool.Pool)(nil)
	_ querier = pgx.Tx(nil)
)

// conn is what every port runs its statements on: the database, and
// where its statements go.
type conn struct {
	db   *DB
	q    querier // db.pool, or Atomic's transaction
	inTx bool    // q is a transaction
}

// Stores returns the store ports of package user on this database.
func (s *DB) Stores() user.Stores { return conn{db: s, q: s.pool}.stores() }

// stores returns the ports over c.
func (c conn) stores() user.Stores {
	return user.Stores{
		Users:         &Users{c},
		Sessions:      &Sessions{c},
		AccountTokens: &AccountTokens{c},
		EmailChanges:  &EmailChanges{c},
		Audit:         &Audit{c},
		Factors:       &Factors{c},
		MFAChallenges: &MFAChallenges{c},
		Retention:     &Retention{c},
		Tx:            &Transactor{c},
		Outbox:        c.outbox(),
	}
}

// outbox is the Outbox of c's transaction, nil without UseOutbox.
func (c conn) outbox() user.Outbox {
	if c.db.outbox == nil {
		return nil
	}
	tx, _ := c.q.(pgx.Tx)
	return c.db.outbox(tx)
}

// lockedInTx is the single-row SELECT query, inside a transaction, with
// FOR NO KEY UPDATE: the rows it returns stay locked against other
// transactions' changes until the transaction ends, so that a
// read-then-write in Atomic (read a user, update it from what was read) is
// never lost to a concurrent one. Such a transaction waits for the first
// to end and then reads what it committed, as on SQLite, where
// transactions never overlap. Outside a transaction nothing is locked and
// query runs as given. The listings (List, Active, All, Events) do not
// lock.
func (c conn) lockedInTx(query string) string {
	if !c.inTx {
		return query
	}
	return query + ` FOR NO KEY UPDATE`
}

// statementSavepoint is the savepoint of undoable statements: a name of
// its own, apart from the sp_N of pgx's nested transactions.
const statementSavepoint = "usersvc_statement"

// execUndoable runs q, one statement (which changes all it changes or
// nothing), such that its failure leaves Atomic's transaction usable (see
// undoable). Outside a transaction q runs on the pool.
func (c conn) execUndoable(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error) {
	if !c.inTx {
		return c.q.Exec(ctx, q, args...)
	}
	var tag pgconn.CommandTag
	err := c.undoable(ctx, func(br pgx.BatchResults) (err error) {
		tag, err = br.Exec()
		return err
	}, q, args...)
	return tag, err
}

// queryRowUndoable is execUndoable for a statement that returns a row
// (INSERT or UPDATE ... RETURNING), read by scan: pgx.ErrNoRows when it
// returns none (an UPDATE of a missing row), which leaves the
// transaction as usable as a failed statement does.
func (c conn) queryRowUndoable(ctx context.Context, scan func(pgx.Row) error, q string, args ...any) error {
	if !c.inTx {
		return scan(c.q.QueryRow(ctx, q, args...))
	}
	return c.undoable(ctx, func(br pgx.BatchResults) error { return scan(br.QueryRow()) }, q, args...)
}

// undoable runs q, one statement that can fail with a business error (a
// taken email or username), inside Atomic's transaction, read by read.
// PostgreSQL aborts a whole transaction at a failed statement, so q runs
// in a savepoint: its failure then leaves the transaction usable, as on
// the other stores. The savepoint before q and its release after are sent
// with q in one batch, one round trip, instead of the three of a nested
// pgx transaction.
//
// The release goes through exactly when q did. Only when it did not is
// the savepoint rolled back (a second round trip): a read that fails on
// this side after q went through (no row) leaves the savepoint released,
// and a rollback to it would fail and abort the transaction. (A returned
// row that does not decode, a bug, is reported by pgx as a failure of the
// batch: the rollback then fails, and the transaction with it.)
func (c conn) undoable(ctx context.Context, read func(pgx.BatchResults) error, q string, args ...any) error {
	b := &pgx.Batch{}
	b.Queue(`SAVEPOINT ` + statementSavepoint)
	b.Queue(q, args...)
	b.Queue(`RELEASE SAVEPOINT ` + statementSavepoint)
	br := c.q.SendBatch(ctx, b)
	_, err := br.Exec()
	if err == nil {
		err = read(br)
	}
	_, unreleased := br.Exec() // after a failure before it, that failure
	if cerr := br.Close(); unreleased == nil {
		unreleased = cerr
	}
	if unreleased != nil {
		// After a failed SAVEPOINT there is none to roll back to, and the
		// transaction is lost anyway: the first error is what is returned.
		if _, rerr := c.q.Exec(ctx, `ROLLBACK TO SAVEPOINT `+statementSavepoint); rerr == nil {
			_, _ = c.q.Exec(ctx, `RELEASE SAVEPOINT `+statementSavepoint)
		}
	}
	if err != nil {
		return err
	}
	return unreleased
}

// Transactor is the PostgreSQL user.Transactor.
//
// Atomic's transaction holds one pooled connection from Begin to Commit
// or Rollback; every call on the Stores fn receives runs on it. Its
// bounds:
//
//   - Beginning it (the wait for a pooled connection included) and
//     committing it are each bounded by queryWait, as any call is.
//   - Each statement inside keeps its queryWait bound. When one expires
//     pgx closes the connection, which PostgreSQL takes as a rollback of
//     the whole transaction; every later call and the commit then fail, so
//     a timed-out transaction can never commit a part of its changes. The
//     same holds for any failed statement: PostgreSQL refuses the rest of
//     an aborted transaction, and its COMMIT rolls back (Atomic returns an
//     error). A statement failing with a business error runs in a
//     savepoint (undoable), so it leaves the transaction usable.
//   - The transaction as a whole is bounded by the caller's ctx.
//   - It is rolled back on a context of its own, so that a transaction
//     ended by its caller's ctx still hands its connection back cleanly.
//
// fn must not use other Stores than those it receives: a call outside the
// transaction waiting for a row the transaction locked would wait for its
// own caller until queryWait.
type Transactor struct{ conn }

var _ user.Transactor = (*Transactor)(nil)

// connOf is the conn of t, a Transactor of this package, unwrapped from
// the wrappers of tests (usertest.Wrap) that say what they wrap.
func connOf(t user.Transactor) (conn, bool) {
	for {
		switch v := t.(type) {
		case *Transactor:
			return v.conn, true
		case interface{ Unwrap() user.Transactor }:
			t = v.Unwrap()
		default:
			return conn{}, false
		}
	}
}

// Atomic runs fn in a transaction, or, called inside one, in a savepoint
// of it: a failing nested fn undoes its own changes only, and the
// enclosing fn decides about the rest.
func (t *Transactor) Atomic(ctx context.Context, fn func(user.Stores) error) error {
	return t.atomic(ctx, func(c conn) error { return fn(c.stores()) })
}

// atomic is Atomic with fn given the transaction's conn, from which other
// ports than user.Stores' (the webhook endpoints) are made.
func (t *Transactor) atomic(ctx context.Context, fn func(conn) error) error {
	begin, cancel := context.WithTimeout(ctx, queryWait)
	tx, err := t.q.Begin(begin) // a savepoint when t.q is a transaction
	cancel()
	if err != nil {
		return translate(err, "begin transaction")
	}
	done := false
	defer func() {
		if !done { // fn failed or panicked: the panic goes on
			rollback(ctx, tx)
		}
	}()
	if err := fn(conn{db: t.db, q: tx, inTx: true}); err != nil {
		return err
	}
	done = true
	commit, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	if err := tx.Commit(commit); err != nil {
		return translate(err, "commit transaction")
	}
	return nil
}

// rollback undoes tx, on a context that ctx's end does not cancel. Its
// error is dropped: a transaction that cannot be rolled back has lost its
// connection, which pgx then closes, and PostgreSQL rolls back a
// transaction whose connection is gone.
func rollback(ctx context.Context, tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), queryWait)
	defer cancel()
	_ = tx.Rollback(ctx)
}
