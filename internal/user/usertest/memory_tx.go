package usertest

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// memoryConn is what every port of Memory holds: the database and, inside
// Atomic, its transaction.
type memoryConn struct {
	*Memory
	tx *memoryTx // nil outside Atomic
}

// memoryTx is a transaction of Memory. Atomic holds the database's lock
// for all of it, so the ports inside take the transaction's own lock
// instead, which keeps the calls of fn's goroutines apart.
type memoryTx struct{ mu sync.Mutex }

// stores returns the ports over m.
func (m memoryConn) stores() user.Stores {
	return user.Stores{
		Users:         memoryUsers{m},
		Sessions:      memorySessions{m},
		AccountTokens: memoryAccountTokens{m},
		EmailChanges:  memoryEmailChanges{m},
		Audit:         memoryAudit{m},
		Factors:       memoryFactors{m},
		MFAChallenges: memoryChallenges{m},
		Retention:     memoryRetention{m},
		Tx:            memoryTransactor{m},
	}
}

// lock takes the lock that guards the state for m: the database's, or
// inside Atomic (which holds that one) the transaction's.
func (m memoryConn) lock() {
	if m.tx != nil {
		m.tx.mu.Lock()
		return
	}
	m.mu.Lock()
}

// unlock releases what lock took.
func (m memoryConn) unlock() {
	if m.tx != nil {
		m.tx.mu.Unlock()
		return
	}
	m.mu.Unlock()
}

// memoryTransactor is Memory's user.Transactor. A transaction holds the
// database's lock from its start to its end: transactions take turns, and
// every call outside waits for the one under way to end (where the
// databases would show the state before it), then sees all of its changes
// or none. A transaction that fails or panics gets back the state of its
// start.
type memoryTransactor struct{ memoryConn }

var _ user.Transactor = memoryTransactor{}

// blocksOthers marks the transactions that make every call outside wait
// until they end (see the Tx/Isolation test).
func (memoryTransactor) blocksOthers() {}

// Atomic runs fn in a transaction, or, called inside one, as a part of it
// that a failure of fn undoes alone (as a savepoint of the databases).
// fn's Stores must not be used after fn returns.
func (c memoryTransactor) Atomic(_ context.Context, fn func(user.Stores) error) error {
	if c.tx != nil {
		return c.nested(fn)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.failure(); err != nil {
		return err
	}
	start := c.snapshot()
	done := false
	defer func() {
		if !done { // fn failed or panicked: the panic goes on
			c.restore(start)
		}
	}()
	if err := fn(memoryConn{Memory: c.Memory, tx: &memoryTx{}}.stores()); err != nil {
		return err
	}
	if err := c.failure(); err != nil { // the database failed meanwhile: so does the commit
		return err
	}
	done = true
	return nil
}

// nested runs fn inside the transaction under way, undoing its changes
// alone when it fails or panics.
func (c memoryTransactor) nested(fn func(user.Stores) error) error {
	c.lock()
	start := c.snapshot()
	c.unlock()
	done := false
	defer func() {
		if !done {
			c.lock()
			c.restore(start)
			c.unlock()
		}
	}()
	if err := fn(c.stores()); err != nil {
		return err
	}
	done = true
	return nil
}

// memorySnapshot is the state of a Memory at one time. Its maps are
// copies; the values in them are never changed in place.
type memorySnapshot struct {
	users         map[uuid.UUID]user.User
	sessions      map[uuid.UUID]user.Session
	refreshTokens map[string]user.RefreshToken
	accountTokens map[string]user.AccountToken
	emailChanges  map[string]user.EmailChange
	totp          map[uuid.UUID]user.TOTPFactor
	recoveryCodes map[uuid.UUID][]recoveryCode
	challenges    map[string]user.MFAChallenge
	events        []user.AuditEvent // never changed in place: a prune makes a new slice
	lastEventID   int64
	joined        []func() // each Joined's restore
}

// snapshot copies the state. The caller holds the lock.
func (m *Memory) snapshot() memorySnapshot {
	return memorySnapshot{
		users: maps.Clone(m.users), sessions: maps.Clone(m.sessions),
		refreshTokens: maps.Clone(m.refreshTokens), accountTokens: maps.Clone(m.accountTokens),
		emailChanges: maps.Clone(m.emailChanges), totp: maps.Clone(m.totp),
		recoveryCodes: maps.Clone(m.recoveryCodes), challenges: maps.Clone(m.challenges),
		events: slices.Clip(m.events), lastEventID: m.lastEventID,
		joined: joinedSnapshots(m.joined),
	}
}

// joinedSnapshots snapshots each of joined.
func joinedSnapshots(joined []Joined) []func() {
	restore := make([]func(), len(joined))
	for i, j := range joined {
		restore[i] = j.Snapshot()
	}
	return restore
}

// restore brings back the state of s, taken earlier in the same
// transaction. The caller holds the lock.
func (m *Memory) restore(s memorySnapshot) {
	m.users, m.sessions, m.refreshTokens, m.accountTokens = s.users, s.sessions, s.refreshTokens, s.accountTokens
	m.emailChanges = s.emailChanges
	m.totp, m.recoveryCodes, m.challenges = s.totp, s.recoveryCodes, s.challenges
	m.events, m.lastEventID = s.events, s.lastEventID
	for _, restore := range s.joined {
		restore()
	}
}
