package passkeytest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// base is the time the suite's rows are made at: microseconds, as the
// stores keep them.
var base = time.Date(2026, 12, 5, 10, 0, 0, 123456000, time.UTC)

// Fixture is what the suite runs on: the passkey stores of a fresh, empty,
// migrated database, and its users store (passkeys belong to accounts).
type Fixture struct {
	Stores passkey.Stores
	Users  user.Users
	// Tx is the accounts' Transactor of the same database, on which
	// Stores.In binds the passkeys (nil when Stores.In is).
	Tx user.Transactor
}

// NewPasskey returns a valid passkey numbered n of userID, not yet stored,
// created n seconds after base.
func NewPasskey(userID uuid.UUID, n int) passkey.Passkey {
	return passkey.Passkey{
		ID: uuid.Must(uuid.NewV7()), UserID: userID, CredentialID: []byte(fmt.Sprintf("credential-%d-%s", n, userID)),
		Name: fmt.Sprintf("Key %d", n), Record: []byte(fmt.Sprintf(`{"n":%d}`, n)), AMR: passkey.AMRHardware,
		CreatedAt: base.Add(time.Duration(n) * time.Second),
	}
}

type fixture func(t *testing.T) Fixture

// Run checks that the stores open returns follow every rule of the ports,
// in two groups: Passkeys and Ceremonies. open must return a fresh, empty,
// migrated database each time, released in t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) Fixture) {
	for _, group := range []struct {
		name  string
		tests map[string]func(*testing.T, fixture)
	}{
		{"Passkeys", passkeyTests},
		{"Ceremonies", ceremonyTests},
	} {
		t.Run(group.name, func(t *testing.T) {
			for name, test := range group.tests {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					test(t, open)
				})
			}
		})
	}
}

// account stores a user numbered n.
func account(t *testing.T, f Fixture, n int) uuid.UUID {
	t.Helper()
	u, err := f.Users.Create(context.Background(), usertest.NewUser(n))
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u.ID
}

// errUndo makes a transaction of the suite roll back.
var errUndo = errors.New("undone by the suite")

// inTx runs change on the passkeys of a transaction of f.Tx (wrapped as
// tests wrap the accounts' stores, which Stores.In sees through) and
// returns Atomic's error; change's own error makes it roll back.
func inTx(t *testing.T, f Fixture, change func(passkey.Store) error) error {
	t.Helper()
	tx := usertest.Wrap(user.Stores{Tx: f.Tx}, func(st user.Stores) user.Stores { return st }).Tx
	return tx.Atomic(context.Background(), func(st user.Stores) error {
		keys, err := f.Stores.In(st)
		if err != nil {
			t.Fatalf("In: %v", err)
		}
		return change(keys)
	})
}

// inTransaction checks Stores.In: the passkeys of a transaction change
// with it, committed or rolled back, and read its own writes.
func inTransaction(t *testing.T, open fixture) {
	f, ctx := open(t), context.Background()
	if f.Stores.In == nil {
		t.Skip("the passkeys are in no transaction of the accounts'")
	}
	alice := account(t, f, 1)
	kept, undone := NewPasskey(alice, 1), NewPasskey(alice, 2)
	err := inTx(t, f, func(keys passkey.Store) error {
		if err := keys.Create(ctx, undone); err != nil {
			return err
		}
		if got, err := keys.ByUser(ctx, alice); err != nil || len(got) != 1 {
			t.Errorf("ByUser inside the transaction = %d passkeys, %v; want its own write", len(got), err)
		}
		return errUndo
	})
	if !errors.Is(err, errUndo) {
		t.Fatalf("Atomic = %v, want the change's error", err)
	}
	if err := inTx(t, f, func(keys passkey.Store) error { return keys.Create(ctx, kept) }); err != nil {
		t.Fatal(err)
	}
	err = inTx(t, f, func(keys passkey.Store) error {
		if err := keys.Delete(ctx, alice, kept.ID); err != nil {
			return err
		}
		return errUndo
	})
	if !errors.Is(err, errUndo) {
		t.Fatalf("Atomic = %v, want the change's error", err)
	}
	got, err := f.Stores.Passkeys.ByUser(ctx, alice)
	if err != nil || len(got) != 1 || got[0].ID != kept.ID {
		t.Errorf("ByUser after a rolled-back create and delete and a committed create = %v, %v; want only the committed one", got, err)
	}
}

func create(t *testing.T, f Fixture, p passkey.Passkey) {
	t.Helper()
	if err := f.Stores.Passkeys.Create(context.Background(), p); err != nil {
		t.Fatalf("Create: %v", err)
	}
}

var passkeyTests = map[string]func(*testing.T, fixture){
	"InTransaction": inTransaction,
	"CreateThenRead": func(t *testing.T, open fixture) {
		f, ctx := open(t), context.Background()
		alice := account(t, f, 1)
		second, first := NewPasskey(alice, 2), NewPasskey(alice, 1)
		create(t, f, second)
		create(t, f, first)
		got, err := f.Stores.Passkeys.ByUser(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]passkey.Passkey{first, second}, got); diff != "" {
			t.Errorf("ByUser: oldest first, as stored (-want +got):\n%s", diff)
		}
		p, err := f.Stores.Passkeys.ByCredentialID(ctx, first.CredentialID)
		if err != nil || !cmp.Equal(p, first) {
			t.Errorf("ByCredentialID = %+v, %v; want %+v", p, err, first)
		}
		if _, err := f.Stores.Passkeys.ByCredentialID(ctx, []byte("nobody's")); !errors.Is(err, passkey.ErrNotFound) {
			t.Errorf("ByCredentialID of an unknown id: %v, want ErrNotFound", err)
		}
		if got, err := f.Stores.Passkeys.ByUser(ctx, account(t, f, 2)); err != nil || len(got) != 0 {
			t.Errorf("ByUser of another account = %v, %v; want none", got, err)
		}
	},
	"CredentialIDIsUnique": func(t *testing.T, open fixture) {
		f := open(t)
		alice, bob := account(t, f, 1), account(t, f, 2)
		p := NewPasskey(alice, 1)
		create(t, f, p)
		q := NewPasskey(bob, 2)
		q.CredentialID = p.CredentialID
		if err := f.Stores.Passkeys.Create(context.Background(), q); !errors.Is(err, passkey.ErrTaken) {
			t.Errorf("Create with a credential id stored for another account: %v, want ErrTaken", err)
		}
	},
	"RenameOnlyOwn": func(t *testing.T, open fixture) {
		f, ctx := open(t), context.Background()
		alice, bob := account(t, f, 1), account(t, f, 2)
		p := NewPasskey(alice, 1)
		create(t, f, p)
		if _, err := f.Stores.Passkeys.Rename(ctx, bob, p.ID, "Mine now"); !errors.Is(err, passkey.ErrNotFound) {
			t.Errorf("Rename of another account's passkey: %v, want ErrNotFound", err)
		}
		got, err := f.Stores.Passkeys.Rename(ctx, alice, p.ID, "Laptop")
		p.Name = "Laptop"
		if err != nil || !cmp.Equal(got, p) {
			t.Errorf("Rename = %+v, %v; want %+v", got, err, p)
		}
	},
	"DeleteOnlyOwn": func(t *testing.T, open fixture) {
		f, ctx := open(t), context.Background()
		alice, bob := account(t, f, 1), account(t, f, 2)
		p := NewPasskey(alice, 1)
		create(t, f, p)
		if err := f.Stores.Passkeys.Delete(ctx, bob, p.ID); !errors.Is(err, passkey.ErrNotFound) {
			t.Errorf("Delete of another account's passkey: %v, want ErrNotFound", err)
		}
		if err := f.Stores.Passkeys.Delete(ctx, alice, p.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := f.Stores.Passkeys.ByCredentialID(ctx, p.CredentialID); !errors.Is(err, passkey.ErrNotFound) {
			t.Errorf("ByCredentialID after Delete: %v, want ErrNotFound", err)
		}
		if err := f.Stores.Passkeys.Delete(ctx, alice, p.ID); !errors.Is(err, passkey.ErrNotFound) {
			t.Errorf("Delete again: %v, want ErrNotFound", err)
		}
	},
	"UsedMovesTheCounterOnce": func(t *testing.T, open fixture) {
		f, ctx := open(t), context.Background()
		alice := account(t, f, 1)
		p := NewPasskey(alice, 1)
		p.SignCount = 4
		create(t, f, p)
		next := p
		next.SignCount, next.Record, next.LastUsedAt = 5, []byte(`{"n":"used"}`), base.Add(time.Hour)
		if err := f.Stores.Passkeys.Used(ctx, next, 3); !errors.Is(err, passkey.ErrStale) {
			t.Errorf("Used with a counter that moved meanwhile: %v, want ErrStale", err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = f.Stores.Passkeys.Used(ctx, next, 4) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, passkey.ErrStale):
				t.Errorf("Used racing: %v, want nil or ErrStale", err)
			}
		}
		if won != 1 {
			t.Errorf("%d of 4 concurrent uses of one counter succeeded, want 1", won)
		}
		got, err := f.Stores.Passkeys.ByCredentialID(ctx, p.CredentialID)
		if err != nil || !cmp.Equal(got, next) {
			t.Errorf("after Used = %+v, %v; want %+v", got, err, next)
		}
		gone := NewPasskey(alice, 9)
		if err := f.Stores.Passkeys.Used(ctx, gone, 0); !errors.Is(err, passkey.ErrNotFound) {
			t.Errorf("Used of a missing passkey: %v, want ErrNotFound", err)
		}
	},
}

func ceremony(n int, expires time.Time) passkey.Ceremony {
	h := make([]byte, 32)
	copy(h, fmt.Sprintf("ceremony-%d", n))
	return passkey.Ceremony{
		Hash: h, Kind: passkey.KindRegister, UserID: uuid.Must(uuid.NewV7()), SessionID: uuid.Must(uuid.NewV7()),
		Data: []byte(fmt.Sprintf(`{"challenge":"c%d"}`, n)), ExpiresAt: expires,
	}
}

var ceremonyTests = map[string]func(*testing.T, fixture){
	"TakeOnce": func(t *testing.T, open fixture) {
		f, ctx := open(t), context.Background()
		c := ceremony(1, base.Add(time.Minute))
		if err := f.Stores.Ceremonies.Put(ctx, c, base); err != nil {
			t.Fatal(err)
		}
		got, err := f.Stores.Ceremonies.Take(ctx, c.Hash, base)
		if err != nil || !cmp.Equal(got, c) {
			t.Errorf("Take = %+v, %v; want %+v", got, err, c)
		}
		if _, err := f.Stores.Ceremonies.Take(ctx, c.Hash, base); !errors.Is(err, passkey.ErrCeremony) {
			t.Errorf("Take again: %v, want ErrCeremony (single use)", err)
		}
		login := ceremony(2, base.Add(time.Minute))
		login.Kind, login.UserID, login.SessionID = passkey.KindLogin, uuid.Nil, uuid.Nil
		if err := f.Stores.Ceremonies.Put(ctx, login, base); err != nil {
			t.Fatal(err)
		}
		if got, err := f.Stores.Ceremonies.Take(ctx, login.Hash, base); err != nil || !cmp.Equal(got, login) {
			t.Errorf("Take of a usernameless ceremony = %+v, %v; want %+v", got, err, login)
		}
	},
	"ExpiredIsGone": func(t *testing.T, open fixture) {
		f, ctx := open(t), context.Background()
		c := ceremony(1, base.Add(time.Minute))
		if err := f.Stores.Ceremonies.Put(ctx, c, base); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Stores.Ceremonies.Take(ctx, c.Hash, c.ExpiresAt); !errors.Is(err, passkey.ErrCeremony) {
			t.Errorf("Take at its expiry: %v, want ErrCeremony", err)
		}
		old := ceremony(2, base.Add(time.Minute))
		if err := f.Stores.Ceremonies.Put(ctx, old, base); err != nil {
			t.Fatal(err)
		}
		// A later Put purges it; taking it afterwards, even at a time it
		// was still valid, finds nothing.
		if err := f.Stores.Ceremonies.Put(ctx, ceremony(3, base.Add(time.Hour)), base.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Stores.Ceremonies.Take(ctx, old.Hash, base); !errors.Is(err, passkey.ErrCeremony) {
			t.Errorf("Take of a purged ceremony: %v, want ErrCeremony", err)
		}
	},
	"ConcurrentTakesOneWins": func(t *testing.T, open fixture) {
		f, ctx := open(t), context.Background()
		c := ceremony(1, base.Add(time.Minute))
		if err := f.Stores.Ceremonies.Put(ctx, c, base); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Go(func() { _, errs[i] = f.Stores.Ceremonies.Take(ctx, c.Hash, base) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, passkey.ErrCeremony):
				t.Errorf("Take racing: %v", err)
			}
		}
		if won != 1 {
			t.Errorf("%d of 6 concurrent takes succeeded, want 1", won)
		}
	},
}
