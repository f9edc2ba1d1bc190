package usertest

import (
	"sync"

	"github.com/usersvc/usersvc/internal/user"
)

// A Joined is the state of another package's fake (the passkeys) kept
// beside a Memory and changed in its transactions, as the databases keep
// other tables in the accounts' transactions: a transaction that fails
// gives it back the state of its start, as it does the accounts'.
type Joined interface {
	// Snapshot copies the state and returns what brings the copy back.
	// The caller holds the Memory's lock.
	Snapshot() (restore func())
}

// Join makes j's state part of m's transactions. j must guard its state
// with m's locks: Locker outside a transaction, LockerIn inside one.
func (m *Memory) Join(j Joined) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.joined = append(m.joined, j)
}

// Locker is the lock of m's state outside its transactions: it waits for
// the transaction under way, as a call outside the accounts' stores does.
func (m *Memory) Locker() sync.Locker { return memoryLocker{Memory: m} }

// LockerIn is the lock of m's state inside the transaction tx, the Stores
// m's Atomic gave (wrapped by Wrap or not); ok is false when tx is
// another database's or no transaction's.
func (m *Memory) LockerIn(tx user.Stores) (l sync.Locker, ok bool) {
	t := tx.Tx
	for {
		switch v := t.(type) {
		case memoryTransactor:
			if v.Memory != m || v.tx == nil {
				return nil, false
			}
			return memoryLocker(v.memoryConn), true
		case interface{ Unwrap() user.Transactor }:
			t = v.Unwrap()
		default:
			return nil, false
		}
	}
}

// memoryLocker is a memoryConn's lock as a sync.Locker.
type memoryLocker memoryConn

func (l memoryLocker) Lock()   { memoryConn(l).lock() }
func (l memoryLocker) Unlock() { memoryConn(l).unlock() }
