package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// conn is what every port runs its statements on: the database, and
// Atomic's transaction when inside one. Every statement then goes through
// the transaction, reads included: the reading connections cannot see its
// uncommitted writes.
type conn struct {
	db *DB
	tx *sql.Tx // nil outside Atomic
}

// Stores returns the store ports of package user on this database.
func (s *DB) Stores() user.Stores { return conn{db: s}.stores() }

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
	return c.db.outbox(c.tx)
}

// readRow, readRows, writeRow, writeRows and exec run a statement where it goes:
// reads on the reading connections and writes on the writer outside a
// transaction, both on the transaction inside. They call the concrete
// types, not an interface of both: through an interface the arguments
// would escape to the heap, one more allocation for every lookup.

func (c conn) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	if c.tx != nil {
		return c.tx.QueryRowContext(ctx, query, args...)
	}
	return c.db.read.QueryRowContext(ctx, query, args...)
}

func (c conn) readRows(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if c.tx != nil {
		return c.tx.QueryContext(ctx, query, args...)
	}
	return c.db.read.QueryContext(ctx, query, args...)
}

func (c conn) writeRow(ctx context.Context, query string, args ...any) *sql.Row {
	if c.tx != nil {
		return c.tx.QueryRowContext(ctx, query, args...)
	}
	return c.db.write.QueryRowContext(ctx, query, args...)
}

func (c conn) writeRows(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if c.tx != nil {
		return c.tx.QueryContext(ctx, query, args...)
	}
	return c.db.write.QueryContext(ctx, query, args...)
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if c.tx != nil {
		return c.tx.ExecContext(ctx, query, args...)
	}
	return c.db.write.ExecContext(ctx, query, args...)
}

// wait returns the context a write runs on. Outside a transaction it is
// ctx bounded by writeWait. Inside one it is ctx without its
// cancellation: a write interrupted mid-way makes SQLite roll back the
// whole transaction by itself, and the statements after it would then run
// outside any transaction, each committed at once. A write inside needs no
// bound either: the transaction holds the writer, so it never waits for
// it. Atomic's own ctx still bounds the transaction (see Transactor).
func (c conn) wait(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.tx != nil {
		return context.WithoutCancel(ctx), func() {}
	}
	return context.WithTimeout(ctx, writeWait)
}

// inTx runs f in a transaction of its own on the writer, committed when f
// returns nil; inside Atomic (database/sql cannot nest transactions), in a
// savepoint of Atomic's transaction, so that a failing f undoes its own
// changes only, as on PostgreSQL.
func (c conn) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	if c.tx != nil {
		return savepoint(ctx, c.tx, func() error { return f(c.tx) })
	}
	tx, err := c.db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return tx.Commit()
}

// ignoreDone drops the error of rolling back a transaction already ended.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// savepoint runs f in a savepoint of tx: when f fails or panics, what it
// changed is undone and tx goes on. Savepoints nest: each rolls back to,
// or releases, the latest of the name.
func savepoint(ctx context.Context, tx *sql.Tx, f func() error) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT nested`); err != nil {
		return err
	}
	done := false
	defer func() {
		if !done { // f failed or panicked: the panic goes on
			// Errors dropped: the transaction has ended, and its commit fails.
			_, _ = tx.ExecContext(ctx, `ROLLBACK TO nested`)
			_, _ = tx.ExecContext(ctx, `RELEASE nested`)
		}
	}()
	if err := f(); err != nil {
		return err
	}
	done = true
	_, err := tx.ExecContext(ctx, `RELEASE nested`)
	return err
}

// Transactor is the SQLite user.Transactor.
//
// Atomic's transaction is an immediate one (BEGIN IMMEDIATE, the writer's
// _txlock) on the writing connection, held from its start to its end:
// transactions and other writes take turns, so concurrent transactions
// never overlap, and reads outside see the last commit (WAL). Its bounds:
//
//   - The wait for the writer is bounded by writeWait, as any write's is
//     (ErrUnavailable past it).
//   - The transaction as a whole is bounded by the caller's ctx: when it
//     ends, database/sql rolls the transaction back once the statement
//     running ends, and every later call fails.
//   - Statements inside are not bounded or interrupted one by one (see
//     conn.wait).
//
// fn should be quick, since every other write waits for it, and must not
// use other Stores than those it receives: a write outside waits for the
// writer its own transaction holds, until writeWait. After a call inside
// fails with an error that is not one of package user's sentinels (disk
// full, I/O error), fn must return it: SQLite may have rolled back the
// transaction already.
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
	if t.tx != nil {
		return savepoint(context.WithoutCancel(ctx), t.tx, func() error { return fn(t.conn) })
	}
	deadline := time.Now().Add(writeWait)
	wait, cancel := context.WithDeadline(ctx, deadline)
	c, err := t.db.write.Conn(wait)
	cancel()
	if err != nil {
		return translate(err, "begin transaction")
	}
	defer func() { _ = c.Close() }() // back to the pool
	tx, end, err := beginBy(ctx, c, deadline)
	if err != nil {
		return translate(err, "begin transaction")
	}
	defer end()
	done := false
	defer func() {
		if !done { // fn failed or panicked: the panic goes on
			_ = tx.Rollback()
		}
	}()
	if err := fn(conn{db: t.db, tx: tx}); err != nil {
		return err
	}
	done = true
	if err := tx.Commit(); err != nil {
		return translate(err, "commit transaction")
	}
	return nil
}

// beginBy begins a transaction on c that lives as long as ctx, while its
// BEGIN (IMMEDIATE: the wait for SQLite's write lock, the busy timeout)
// gives up at deadline, the end of the writeWait that the wait for c
// started. Without it, a transaction that got the writer connection late
// in its writeWait then waited a whole busy timeout more for a locked file.
// The transaction's context cannot be the deadline's: database/sql rolls a
// transaction back when its context ends. Call end once the transaction
// has ended.
func beginBy(ctx context.Context, c *sql.Conn, deadline time.Time) (*sql.Tx, func(), error) {
	txCtx, cancel := context.WithCancelCause(ctx)
	late := time.AfterFunc(time.Until(deadline), func() { cancel(context.DeadlineExceeded) })
	tx, err := c.BeginTx(txCtx, nil)
	if !late.Stop() { // the deadline came during BEGIN, or just after it
		if err == nil {
			_ = tx.Rollback()
			err = context.DeadlineExceeded
		}
		cancel(nil)
		return nil, nil, fmt.Errorf("wait for the write lock: %w: %w", context.DeadlineExceeded, err)
	}
	if err != nil {
		cancel(nil)
		return nil, nil, err
	}
	return tx, func() { cancel(nil) }, nil
}
