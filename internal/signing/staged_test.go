package signing_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/storetest"
)

const publishDelay = 20 * time.Minute

// openStaged is open with a publish delay and, when every is positive,
// scheduled rotation.
func openStaged(t *testing.T, repo signing.Repository, c *clock, every time.Duration) fixture {
	t.Helper()
	ring, err := signing.Open(t.Context(), repo, newSealer(t, 7), signing.Options{
		Overlap: ttl + time.Minute, PublishDelay: publishDelay, RotateEvery: every, Now: c.Now,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	tokens, err := security.NewSigned(security.EdDSA, ring, "usersvc", ttl, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{ring: ring, tokens: tokens}
}

func states(r *signing.Ring) map[string]string {
	m := map[string]string{}
	for _, i := range r.List() {
		m[i.ID] = i.State
	}
	return m
}

// TestStagedRotation: a rotated key is published at once and signs only
// after the publish delay, on every replica, without a reload at that
// moment; the old key is published until its last token has expired.
func TestStagedRotation(t *testing.T) {
	forEachStore(t, func(t *testing.T, repo signing.Repository) {
		c := &clock{now: time.Now()}
		a := openStaged(t, repo, c, 0)
		b := openStaged(t, repo, c, 0) // a second replica on the same database
		oldToken := a.issue(t)
		oldKid := kidOf(t, oldToken)

		info, err := a.ring.Rotate(t.Context())
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		if info.State != signing.Pending || !info.CreatedAt.Equal(c.Now().Add(publishDelay).UTC().Truncate(time.Microsecond)) {
			t.Errorf("Rotate() = %+v, want a pending key signing from now + %s", info, publishDelay)
		}
		if err := b.ring.Reload(t.Context()); err != nil { // b's periodic reload
			t.Fatal(err)
		}
		for name, f := range map[string]fixture{"first": a, "second": b} {
			if got := jwksKids(f.ring); len(got) != 2 || got[0] != oldKid || got[1] != info.ID {
				t.Errorf("%s replica: JWKS kids before the new key signs = %v, want [%s %s]", name, got, oldKid, info.ID)
			}
			if kid := kidOf(t, f.issue(t)); kid != oldKid {
				t.Errorf("%s replica signs with %s before the publish delay, want the old key %s", name, kid, oldKid)
			}
		}

		c.Add(publishDelay - time.Second)
		if kid := kidOf(t, a.issue(t)); kid != oldKid {
			t.Errorf("a second before the delay ends the token kid is %s, want %s", kid, oldKid)
		}
		c.Add(time.Second)
		for name, f := range map[string]fixture{"first": a, "second": b} {
			newToken := f.issue(t)
			if kid := kidOf(t, newToken); kid != info.ID {
				t.Errorf("%s replica signs with %s once the delay has passed, want the new key %s", name, kid, info.ID)
			}
			for _, tok := range []string{oldToken, newToken} {
				if _, err := f.tokens.Verify(tok); err != nil {
					t.Errorf("%s replica Verify(token of %s): %v", name, kidOf(t, tok), err)
				}
			}
		}
		if s := states(a.ring); s[oldKid] != signing.Retiring || s[info.ID] != signing.Active {
			t.Errorf("states after the delay = %v, want old retiring, new active", s)
		}
		list := a.ring.List()
		if want := info.CreatedAt.Add(ttl + time.Minute); !list[0].RetiresAt.Equal(want) {
			t.Errorf("old key retires at %s, want %s: the overlap after it stopped signing", list[0].RetiresAt, want)
		}

		c.Add(ttl + time.Minute)
		if got := jwksKids(b.ring); len(got) != 1 || got[0] != info.ID {
			t.Errorf("JWKS kids once the old key's tokens have expired = %v, want [%s]", got, info.ID)
		}
		if _, err := b.tokens.Verify(oldToken); err == nil {
			t.Error("a token of the retired key still verifies")
		}
	})
}

func TestRotateNowSignsAtOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, repo signing.Repository) {
		c := &clock{now: time.Now()}
		a := openStaged(t, repo, c, 0)
		c.Add(time.Second)
		info, err := a.ring.RotateNow(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if kid := kidOf(t, a.issue(t)); kid != info.ID || info.State != signing.Active {
			t.Errorf("after RotateNow: token kid %s, state %s; want %s, active", kid, info.State, info.ID)
		}
	})
}

// TestRevoke: a leaked key is withdrawn at once: its tokens stop verifying
// and it leaves the JWKS, on this replica now and on the others at their
// next reload; the key that signs cannot be revoked.
func TestRevoke(t *testing.T) {
	forEachStore(t, func(t *testing.T, repo signing.Repository) {
		c := &clock{now: time.Now()}
		a := openStaged(t, repo, c, 0)
		b := openStaged(t, repo, c, 0)
		leaked := a.issue(t)
		leakedKid := kidOf(t, leaked)
		if _, err := a.ring.Revoke(t.Context(), leakedKid); !errors.Is(err, signing.ErrKeySigns) {
			t.Fatalf("Revoke(the signing key) = %v, want ErrKeySigns", err)
		}
		c.Add(time.Second)
		fresh, err := a.ring.RotateNow(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		info, err := a.ring.Revoke(t.Context(), leakedKid)
		if err != nil || info.State != signing.Revoked {
			t.Fatalf("Revoke(old key) = %+v, %v; want it revoked", info, err)
		}
		if _, err := a.tokens.Verify(leaked); err == nil {
			t.Error("a token of the revoked key verifies on the replica that revoked it")
		}
		if got := jwksKids(a.ring); len(got) != 1 || got[0] != fresh.ID {
			t.Errorf("JWKS kids after the revocation = %v, want [%s]", got, fresh.ID)
		}
		if err := b.ring.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := b.tokens.Verify(leaked); err == nil {
			t.Error("a token of the revoked key verifies on another replica after its reload")
		}
		if _, err := a.ring.Revoke(t.Context(), leakedKid); !errors.Is(err, signing.ErrNoSuchKey) {
			t.Errorf("Revoke(revoked key) = %v, want ErrNoSuchKey", err)
		}
		if _, err := a.ring.Revoke(t.Context(), "nosuchkey"); !errors.Is(err, signing.ErrNoSuchKey) {
			t.Errorf("Revoke(unknown kid) = %v, want ErrNoSuchKey", err)
		}
	})
}

// TestRevokePendingCancelsTheRotation: a staged key revoked before it
// signs never signs; the key before it signs on and does not retire.
func TestRevokePendingCancelsTheRotation(t *testing.T) {
	forEachStore(t, func(t *testing.T, repo signing.Repository) {
		c := &clock{now: time.Now()}
		a := openStaged(t, repo, c, 0)
		kid := kidOf(t, a.issue(t))
		pending, err := a.ring.Rotate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.ring.Revoke(t.Context(), pending.ID); err != nil {
			t.Fatalf("Revoke(pending) = %v", err)
		}
		c.Add(publishDelay + ttl + time.Hour)
		if got := kidOf(t, a.issue(t)); got != kid {
			t.Errorf("after a cancelled rotation tokens are signed by %s, want the old key %s", got, kid)
		}
		if got := jwksKids(a.ring); len(got) != 1 || got[0] != kid {
			t.Errorf("JWKS kids = %v, want [%s]", got, kid)
		}
	})
}

// TestScheduledRotationOnOneReplica: replicas due to rotate at the same
// moment make one key between them.
func TestScheduledRotationOnOneReplica(t *testing.T) {
	forEachStore(t, func(t *testing.T, repo signing.Repository) {
		const every = 24 * time.Hour
		c := &clock{now: time.Now()}
		replicas := []fixture{openStaged(t, repo, c, every), openStaged(t, repo, c, every), openStaged(t, repo, c, every)}
		if _, rotated, err := replicas[0].ring.RotateIfDue(t.Context()); rotated || err != nil {
			t.Fatalf("RotateIfDue with a new key = %v, %v; want no rotation", rotated, err)
		}
		// The new key must sign every 24h: it is made publishDelay before.
		c.Add(every - publishDelay)
		var mu sync.Mutex
		var made []signing.Info
		var wg sync.WaitGroup
		for _, f := range replicas {
			wg.Go(func() {
				info, rotated, err := f.ring.RotateIfDue(t.Context())
				if err != nil {
					t.Errorf("RotateIfDue: %v", err)
				}
				if rotated {
					mu.Lock()
					made = append(made, info)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(made) != 1 || made[0].State != signing.Pending {
			t.Fatalf("replicas rotating at once made %+v, want one pending key", made)
		}
		keys, err := repo.Keys(t.Context())
		if err != nil || len(keys) != 2 {
			t.Fatalf("stored keys = %d, %v; want 2", len(keys), err)
		}
		c.Add(time.Hour)
		for _, f := range replicas {
			if _, rotated, err := f.ring.RotateIfDue(t.Context()); rotated || err != nil {
				t.Errorf("RotateIfDue an hour later = %v, %v; want nothing to do", rotated, err)
			}
		}
	})
}

// TestRunRotatesOnSchedule: Run, besides reloading, makes the scheduled
// key when it is due, and says so.
func TestRunRotatesOnSchedule(t *testing.T) {
	repo := storetest.SigningKeys(t, storetest.SQLite(t))
	c := &clock{now: time.Now()}
	ticks := make(chan time.Time) // unbuffered: a send returns once Run has taken it
	rotated := make(chan signing.Info, 1)
	ring, err := signing.Open(t.Context(), repo, newSealer(t, 7), signing.Options{
		Overlap: ttl, PublishDelay: publishDelay, RotateEvery: 24 * time.Hour, Now: c.Now, Ticks: ticks,
		Rotated: func(_ context.Context, i signing.Info) { rotated <- i },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); ring.Run(ctx, func(err error) { t.Errorf("Run: %v", err) }) }()
	ticks <- time.Now()
	ticks <- time.Now() // the first round is over: nothing was due
	if n := len(ring.List()); n != 1 {
		t.Fatalf("keys after a round with nothing due = %d, want 1", n)
	}
	c.Add(24*time.Hour - publishDelay)
	ticks <- time.Now()
	info := <-rotated
	if info.State != signing.Pending || len(ring.List()) != 2 {
		t.Errorf("scheduled rotation made %+v, %d keys; want a pending second key", info, len(ring.List()))
	}
	cancel()
	<-done
}

// TestMigrateDownDropsRevokedKeys: rolling migration 00009 back must not
// hand a revoked key back to the release before, which would trust it
// again; the other keys stay.
func TestMigrateDownDropsRevokedKeys(t *testing.T) {
	for _, s := range storetest.All() {
		t.Run(s.Name, func(t *testing.T) {
			db := s.Open(t)
			m, ok := db.(interface {
				Migrator() (*goose.Provider, error)
			})
			if !ok {
				t.Fatalf("%T has no Migrator", db)
			}
			repo := db.SigningKeys()
			c := &clock{now: time.Now()}
			f := openStaged(t, repo, c, 0)
			leaked, _, _ := f.ring.SigningKey()
			c.Add(time.Second)
			kept, err := f.ring.RotateNow(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.ring.Revoke(t.Context(), leaked); err != nil {
				t.Fatal(err)
			}
			p, err := m.Migrator()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.DownTo(t.Context(), 8); err != nil {
				t.Fatalf("migrate down to 8: %v", err)
			}
			if _, err := p.Up(t.Context()); err != nil {
				t.Fatalf("migrate up again: %v", err)
			}
			keys, err := repo.Keys(t.Context())
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.ID)
			}
			if err != nil || len(kids) != 1 || kids[0] != kept.ID {
				t.Errorf("keys after migrating down and up = %v, %v; want only %s (the revoked %s gone)", kids, err, kept.ID, leaked)
			}
		})
	}
}
