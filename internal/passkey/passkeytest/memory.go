// Package passkeytest is the conformance suite every implementation of the
// passkey package's store ports must pass, plus Memory, an in-memory
// database whose stores pass it.
package passkeytest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// Memory keeps passkeys and ceremonies in memory, safe for concurrent use.
// The passkeys live beside the accounts of a usertest.Memory, in its
// transactions (Stores.In) and under its locks, as the databases keep them
// in the accounts' database. It does not see the accounts themselves:
// deleting one leaves its passkeys (the databases' foreign keys delete
// them), which no sign-in can use since the account is gone. Ceremonies
// are in no transaction, as on the databases.
type Memory struct {
	accounts *usertest.Memory
	passkeys []passkey.Passkey // guarded by the accounts' locks

	mu         sync.Mutex // guards ceremonies
	ceremonies map[string]passkey.Ceremony
}

// NewMemory returns a Memory with no passkeys beside accounts.
func NewMemory(accounts *usertest.Memory) *Memory {
	m := &Memory{accounts: accounts, ceremonies: map[string]passkey.Ceremony{}}
	accounts.Join(m)
	return m
}

// Snapshot copies the passkeys for the accounts' transactions
// (usertest.Joined).
func (m *Memory) Snapshot() (restore func()) {
	kept := slices.Clone(m.passkeys) // the elements are copied: changes are made to m's own
	return func() { m.passkeys = kept }
}

// Stores returns the ports over m.
func (m *Memory) Stores() passkey.Stores {
	return passkey.Stores{
		Passkeys: memoryPasskeys{m: m, lock: m.accounts.Locker()}, Ceremonies: memoryCeremonies{m},
		In: m.in,
	}
}

// in is the passkeys on the accounts' transaction tx.
func (m *Memory) in(tx user.Stores) (passkey.Store, error) {
	lock, ok := m.accounts.LockerIn(tx)
	if !ok {
		return nil, errors.New("passkeytest: passkeys on a transaction of another store")
	}
	return memoryPasskeys{m: m, lock: lock}, nil
}

// memoryPasskeys are the passkeys under lock: the accounts' database's,
// or their transaction's.
type memoryPasskeys struct {
	m    *Memory
	lock sync.Locker
}

type memoryCeremonies struct{ m *Memory }

func clonePasskey(p passkey.Passkey) passkey.Passkey {
	p.CredentialID, p.Record = bytes.Clone(p.CredentialID), bytes.Clone(p.Record)
	return p
}

// find returns the index of userID's passkey id, -1 when none.
func (m *Memory) find(userID, id uuid.UUID) int {
	return slices.IndexFunc(m.passkeys, func(p passkey.Passkey) bool { return p.ID == id && p.UserID == userID })
}

func (s memoryPasskeys) Create(_ context.Context, p passkey.Passkey) error {
	s.lock.Lock()
	defer s.lock.Unlock()
	for _, q := range s.m.passkeys {
		if bytes.Equal(q.CredentialID, p.CredentialID) || q.ID == p.ID {
			return passkey.ErrTaken
		}
	}
	s.m.passkeys = append(s.m.passkeys, clonePasskey(p))
	return nil
}

func (s memoryPasskeys) ByUser(_ context.Context, userID uuid.UUID) ([]passkey.Passkey, error) {
	s.lock.Lock()
	defer s.lock.Unlock()
	var out []passkey.Passkey
	for _, p := range s.m.passkeys {
		if p.UserID == userID {
			out = append(out, clonePasskey(p))
		}
	}
	slices.SortStableFunc(out, func(a, b passkey.Passkey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out, nil
}

func (s memoryPasskeys) ByCredentialID(_ context.Context, credentialID []byte) (passkey.Passkey, error) {
	s.lock.Lock()
	defer s.lock.Unlock()
	for _, p := range s.m.passkeys {
		if bytes.Equal(p.CredentialID, credentialID) {
			return clonePasskey(p), nil
		}
	}
	return passkey.Passkey{}, passkey.ErrNotFound
}

func (s memoryPasskeys) Rename(_ context.Context, userID, id uuid.UUID, name string) (passkey.Passkey, error) {
	s.lock.Lock()
	defer s.lock.Unlock()
	i := s.m.find(userID, id)
	if i < 0 {
		return passkey.Passkey{}, passkey.ErrNotFound
	}
	s.m.passkeys[i].Name = name
	return clonePasskey(s.m.passkeys[i]), nil
}

func (s memoryPasskeys) Delete(_ context.Context, userID, id uuid.UUID) error {
	s.lock.Lock()
	defer s.lock.Unlock()
	i := s.m.find(userID, id)
	if i < 0 {
		return passkey.ErrNotFound
	}
	s.m.passkeys = slices.Delete(s.m.passkeys, i, i+1)
	return nil
}

func (s memoryPasskeys) Used(_ context.Context, p passkey.Passkey, prev int64) error {
	s.lock.Lock()
	defer s.lock.Unlock()
	i := s.m.find(p.UserID, p.ID)
	if i < 0 {
		return passkey.ErrNotFound
	}
	q := &s.m.passkeys[i]
	if q.SignCount != prev {
		return passkey.ErrStale
	}
	q.Record, q.SignCount, q.LastUsedAt = bytes.Clone(p.Record), p.SignCount, p.LastUsedAt
	return nil
}

func (s memoryCeremonies) Put(_ context.Context, c passkey.Ceremony, now time.Time) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	for h, old := range s.m.ceremonies {
		if !now.Before(old.ExpiresAt) {
			delete(s.m.ceremonies, h)
		}
	}
	c.Hash, c.Data = bytes.Clone(c.Hash), bytes.Clone(c.Data)
	s.m.ceremonies[string(c.Hash)] = c
	return nil
}

func (s memoryCeremonies) Take(_ context.Context, hash []byte, now time.Time) (passkey.Ceremony, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	c, ok := s.m.ceremonies[string(hash)]
	delete(s.m.ceremonies, string(hash))
	if !ok || !now.Before(c.ExpiresAt) {
		return passkey.Ceremony{}, passkey.ErrCeremony
	}
	return c, nil
}
