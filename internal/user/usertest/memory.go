package usertest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Memory is an in-memory database whose stores (Stores) follow the stores'
// rules (they pass Run), for tests of the layers above the stores and for
// the cases a real store cannot set up: an inactive account, a user
// deleted mid-request, a failing database. It is safe for concurrent use.
//
// Its stores share one state under one lock, as the tables of one database
// do: deleting a user deletes its sessions, refresh tokens and account
// tokens, as the stores' foreign keys do. A transaction (Stores().Tx)
// holds that lock from its start to its end. The fakes of the ports are
// in users_memory.go, sessions_memory.go, account_tokens_memory.go,
// audit_memory.go and memory_tx.go.
type Memory struct {
	// mu guards the state below; Atomic holds it for the whole
	// transaction (memory_tx.go).
	mu            sync.Mutex
	users         map[uuid.UUID]user.User
	sessions      map[uuid.UUID]user.Session
	refreshTokens map[string]user.RefreshToken // by string(hash)
	accountTokens map[string]user.AccountToken // by string(hash)
	emailChanges  map[string]user.EmailChange  // by string(hash)
	totp          map[uuid.UUID]user.TOTPFactor
	recoveryCodes map[uuid.UUID][]recoveryCode
	challenges    map[string]user.MFAChallenge // by string(hash)
	events        []user.AuditEvent            // ID order; appended to, cut by a rollback or a prune
	lastEventID   int64                        // the ID of the latest event appended, pruned or not
	joined        []Joined                     // other fakes' state in the transactions (Join)

	// hooks guards fail and afterByID, apart from the state, so that a
	// hook may call SetFail inside Atomic.
	hooks sync.Mutex
	fail  error
	// afterByID, when set, runs after each successful ByID and
	// UserSession, unlocked.
	afterByID func(user.User)
}

// errForeignKey is a session or token stored for a missing user or
// session, which the stores' foreign keys refuse.
var errForeignKey = errors.New("usertest: foreign key violation")

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{
		users:         map[uuid.UUID]user.User{},
		sessions:      map[uuid.UUID]user.Session{},
		refreshTokens: map[string]user.RefreshToken{},
		accountTokens: map[string]user.AccountToken{},
		emailChanges:  map[string]user.EmailChange{},
		totp:          map[uuid.UUID]user.TOTPFactor{},
		recoveryCodes: map[uuid.UUID][]recoveryCode{},
		challenges:    map[string]user.MFAChallenge{},
	}
}

// Stores returns the store ports over m, as postgres.DB.Stores and
// sqlite.DB.Stores do over a database.
func (m *Memory) Stores() user.Stores { return memoryConn{Memory: m}.stores() }

// Ping reports whether the database answers, as the real handles' Ping
// does: it fails only when SetFail says so.
func (m *Memory) Ping(context.Context) error { return m.failure() }

// SetFail makes every method of m's stores (and Ping, and the commit of a
// transaction under way) return err from now on; nil makes them work
// again.
func (m *Memory) SetFail(err error) {
	m.hooks.Lock()
	defer m.hooks.Unlock()
	m.fail = err
}

// failure is the error SetFail set.
func (m *Memory) failure() error {
	m.hooks.Lock()
	defer m.hooks.Unlock()
	return m.fail
}

// SetAfterByID makes f run after each successful Users.ByID and
// Sessions.UserSession (the lookup that authenticates a request), with the
// user found, outside the lock, so f may use m. Inside Atomic, m stays
// locked for the transaction: f may call SetFail then, but not m's
// stores.
func (m *Memory) SetAfterByID(f func(user.User)) {
	m.hooks.Lock()
	defer m.hooks.Unlock()
	m.afterByID = f
}

// hooked returns the function SetAfterByID set and the error SetFail set.
func (m *Memory) hooked() (func(user.User), error) {
	m.hooks.Lock()
	defer m.hooks.Unlock()
	return m.afterByID, m.fail
}

// SetActive marks the user id active or not behind the service's back, as
// no port does without its checks. It does nothing when the user is
// missing or m fails.
func (m *Memory) SetActive(id uuid.UUID, active bool) {
	_, _ = memoryConn{Memory: m}.modify(id, func(u *user.User) error { u.IsActive = active; return nil })
}

// SetVerified marks the user id's email verified or not behind the
// service's back (as clicking a mailed link would). It does nothing when
// the user is missing or m fails.
func (m *Memory) SetVerified(id uuid.UUID, verified bool) {
	_, _ = memoryConn{Memory: m}.modify(id, func(u *user.User) error {
		u.EmailVerified = verified
		if verified {
			u.TrustedEmail = u.Email
		}
		return nil
	})
}

// Len reports how many users m holds.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.users)
}

// modify applies change to the user id under the lock and moves its
// UpdatedAt on, always forward even if the clock has not ticked.
func (m memoryConn) modify(id uuid.UUID, change func(*user.User) error) (user.User, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return user.User{}, err
	}
	u, ok := m.users[id]
	if !ok {
		return user.User{}, user.ErrNotFound
	}
	if err := change(&u); err != nil {
		return user.User{}, err
	}
	u.UpdatedAt = later(u.UpdatedAt)
	m.users[id] = u
	return u, nil
}

// later is now, or just after prev when the clock has not moved past it.
func later(prev time.Time) time.Time {
	now := time.Now().UTC()
	if !now.After(prev) {
		now = prev.Add(time.Microsecond)
	}
	return now
}

// deleteUser removes the user id and what belongs to it: its sessions,
// their refresh tokens and its account tokens. The caller holds the lock.
func (m *Memory) deleteUser(id uuid.UUID) {
	delete(m.users, id)
	for sid, s := range m.sessions {
		if s.UserID == id {
			delete(m.sessions, sid)
		}
	}
	for h, t := range m.refreshTokens {
		if _, ok := m.sessions[t.SessionID]; !ok {
			delete(m.refreshTokens, h)
		}
	}
	for h, c := range m.emailChanges {
		if c.UserID == id {
			delete(m.emailChanges, h)
		}
	}
	for h, t := range m.accountTokens {
		if t.UserID == id {
			delete(m.accountTokens, h)
		}
	}
	delete(m.totp, id)
	delete(m.recoveryCodes, id)
	for h, c := range m.challenges {
		if c.UserID == id {
			delete(m.challenges, h)
		}
	}
}
