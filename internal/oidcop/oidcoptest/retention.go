package oidcoptest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/oidcop"
)

// purgeAll calls PurgeExpired with limit until a batch removes fewer, as
// internal/retention does, checking that no batch removes more than
// limit; it returns the rows removed and the number of batches.
func purgeAll(t *testing.T, r oidcop.Retention, before time.Time, limit int) (total int64, batches int) {
	t.Helper()
	for {
		n, err := r.PurgeExpired(ctx, before, limit)
		must(t, err)
		batches++
		if n > int64(limit) {
			t.Fatalf("batch %d removed %d rows, more than its limit %d", batches, n, limit)
		}
		total += n
		if n < int64(limit) {
			return total, batches
		}
		if batches > 1000 {
			t.Fatal("PurgeExpired never ends")
		}
	}
}

// token adds a refresh token named name of grant to s, expiring at expires.
func token(t *testing.T, s oidcop.Grants, grant, name string, expires time.Time) oidcop.RefreshToken {
	t.Helper()
	rt := oidcop.RefreshToken{Hash: hash(name), GrantID: grant, CreatedAt: base, ExpiresAt: expires}
	must(t, s.AddRefreshToken(ctx, rt, nil))
	return rt
}

// wantKept checks that read finds what it reads (want true) or says
// ErrNotFound (want false).
func wantKept(t *testing.T, want bool, what string, read func() error) {
	t.Helper()
	err := read()
	switch {
	case want && err != nil:
		t.Errorf("%s: %v, want kept", what, err)
	case !want && !errors.Is(err, oidcop.ErrNotFound):
		t.Errorf("%s: %v, want removed (ErrNotFound)", what, err)
	}
}

var retentionTests = map[string]func(*testing.T, oidcop.Stores){
	// Purge: what ended before the cutoff goes, counted once each, and
	// nothing else; CountExpired said so beforehand.
	"Purge": func(t *testing.T, st oidcop.Stores) {
		s, r := st.Grants, st.Retention
		cutoff := base.Add(time.Hour)
		oldReq, liveReq, edgeReq := NewAuthRequest(1), NewAuthRequest(2), NewAuthRequest(3)
		oldReq.ExpiresAt, liveReq.ExpiresAt, edgeReq.ExpiresAt = cutoff.Add(-time.Second), cutoff.Add(time.Second), cutoff
		oldReq.CodeHash, liveReq.CodeHash, edgeReq.CodeHash = hash("old code"), hash("live code"), hash("edge code")
		for _, req := range []oidcop.AuthRequest{oldReq, liveReq, edgeReq} {
			must(t, s.SaveAuthRequest(ctx, req))
		}
		// revoked before the cutoff; revoked after; made before it with
		// no refresh token; made before it with a live refresh token;
		// made before it with only an expired one; made after it.
		revoked, revokedLate, bare, refreshed, lapsed, fresh := NewGrant(1), NewGrant(2), NewGrant(3), NewGrant(4), NewGrant(5), NewGrant(6)
		fresh.CreatedAt = cutoff.Add(time.Second)
		for _, g := range []oidcop.Grant{revoked, revokedLate, bare, refreshed, lapsed, fresh} {
			must(t, s.SaveGrant(ctx, g))
		}
		must(t, s.RevokeGrant(ctx, revoked.ID, cutoff.Add(-time.Minute)))
		must(t, s.RevokeGrant(ctx, revokedLate.ID, cutoff.Add(time.Minute)))
		token(t, s, revoked.ID, "revoked's", cutoff.Add(time.Hour))
		token(t, s, refreshed.ID, "expired", cutoff.Add(-time.Second))
		token(t, s, lapsed.ID, "lapsed", cutoff.Add(-time.Second))
		live := token(t, s, refreshed.ID, "live", cutoff.Add(time.Hour))
		edge := token(t, s, refreshed.ID, "edge", cutoff)
		lateTok := token(t, s, revokedLate.ID, "late", cutoff.Add(time.Hour))

		// oldReq; revoked and its token; bare; refreshed's expired token;
		// lapsed and its token.
		const want = 7
		if n, err := r.CountExpired(ctx, cutoff); err != nil || n != want {
			t.Errorf("CountExpired = %d, %v; want %d", n, err, want)
		}
		if n, _ := purgeAll(t, r, cutoff, 1000); n != want {
			t.Errorf("PurgeExpired removed %d rows, want %d", n, want)
		}
		if n, err := r.CountExpired(ctx, cutoff); err != nil || n != 0 {
			t.Errorf("CountExpired after the purge = %d, %v; want 0", n, err)
		}
		wantKept(t, false, "expired auth request", func() error { _, err := s.AuthRequest(ctx, oldReq.ID); return err })
		wantKept(t, false, "expired code", func() error { _, err := s.UseCode(ctx, oldReq.CodeHash, NewGrant(8)); return err })
		for _, req := range []oidcop.AuthRequest{liveReq, edgeReq} {
			wantKept(t, true, "unexpired auth request "+req.ClientID, func() error { _, err := s.AuthRequest(ctx, req.ID); return err })
			wantKept(t, true, "unexpired code "+req.ClientID, func() error { _, err := s.UseCode(ctx, req.CodeHash, NewGrant(9)); return err })
		}
		for _, g := range []oidcop.Grant{revoked, bare, lapsed} {
			wantKept(t, false, "ended grant "+g.ClientID, func() error { _, err := s.Grant(ctx, g.ID); return err })
		}
		for _, g := range []oidcop.Grant{revokedLate, refreshed, fresh} {
			wantKept(t, true, "grant "+g.ClientID, func() error { _, err := s.Grant(ctx, g.ID); return err })
		}
		for _, name := range []string{"revoked's", "expired", "lapsed"} {
			wantKept(t, false, "refresh token "+name, func() error { _, err := s.RefreshToken(ctx, hash(name)); return err })
		}
		for _, rt := range []oidcop.RefreshToken{live, edge, lateTok} {
			wantKept(t, true, "live refresh token of "+rt.GrantID, func() error { _, err := s.RefreshToken(ctx, rt.Hash); return err })
		}
	},
	// PurgeInBatches: more rows than a batch go in batches of at most the
	// limit, each a full one but the last, until one is short; the live
	// rows among them stay.
	"PurgeInBatches": func(t *testing.T, st oidcop.Stores) {
		s, r := st.Grants, st.Retention
		cutoff := base.Add(time.Hour)
		var want int64
		for i := range 7 {
			req := NewAuthRequest(i)
			req.ExpiresAt, req.CodeHash = cutoff.Add(-time.Minute), hash(fmt.Sprint("code ", i))
			must(t, s.SaveAuthRequest(ctx, req))
			want++
		}
		liveReq := NewAuthRequest(100)
		liveReq.ExpiresAt = cutoff.Add(time.Minute)
		must(t, s.SaveAuthRequest(ctx, liveReq))
		liveGrant := NewGrant(100)
		must(t, s.SaveGrant(ctx, liveGrant))
		liveTok := token(t, s, liveGrant.ID, "live", cutoff.Add(time.Hour))
		for i := range 5 {
			token(t, s, liveGrant.ID, fmt.Sprint("expired ", i), cutoff.Add(-time.Minute))
			want++
		}
		for i := range 3 {
			g := NewGrant(i)
			must(t, s.SaveGrant(ctx, g))
			token(t, s, g.ID, fmt.Sprint("revoked's a ", i), cutoff.Add(time.Hour))
			token(t, s, g.ID, fmt.Sprint("revoked's b ", i), cutoff.Add(time.Hour))
			must(t, s.RevokeGrant(ctx, g.ID, cutoff.Add(-time.Minute)))
			want += 3
		}
		for i := range 4 {
			must(t, s.SaveGrant(ctx, NewGrant(10+i)))
			want++
		}
		const limit = 3
		n, batches := purgeAll(t, r, cutoff, limit)
		if n != want {
			t.Errorf("removed %d rows, want %d", n, want)
		}
		if wantBatches := int(want/limit) + 1; batches != wantBatches {
			t.Errorf("%d batches of %d, want %d: each but the last a full one", batches, limit, wantBatches)
		}
		wantKept(t, true, "live auth request", func() error { _, err := s.AuthRequest(ctx, liveReq.ID); return err })
		wantKept(t, true, "live grant", func() error { _, err := s.Grant(ctx, liveGrant.ID); return err })
		wantKept(t, true, "live grant's live refresh token", func() error { _, err := s.RefreshToken(ctx, liveTok.Hash); return err })
		if n, err := r.CountExpired(ctx, cutoff); err != nil || n != 0 {
			t.Errorf("CountExpired after the batches = %d, %v; want 0", n, err)
		}
	},
	// PurgeStopsWithItsContext: on an ended context neither a batch nor
	// the count runs: they fail with its error, and nothing goes.
	"PurgeStopsWithItsContext": func(t *testing.T, st oidcop.Stores) {
		g := NewGrant(1)
		must(t, st.Grants.SaveGrant(ctx, g))
		must(t, st.Grants.RevokeGrant(ctx, g.ID, base))
		ended, cancel := context.WithCancel(ctx)
		cancel()
		if n, err := st.Retention.PurgeExpired(ended, base.Add(time.Hour), 10); !errors.Is(err, context.Canceled) || n != 0 {
			t.Errorf("PurgeExpired on an ended context = %d, %v; want 0, context.Canceled", n, err)
		}
		if _, err := st.Retention.CountExpired(ended, base.Add(time.Hour)); !errors.Is(err, context.Canceled) {
			t.Errorf("CountExpired on an ended context = %v, want context.Canceled", err)
		}
		if _, err := st.Grants.Grant(ctx, g.ID); err != nil {
			t.Errorf("revoked grant after the cancelled purge: %v, want kept", err)
		}
	},
	// PurgeNothing: an empty batch when nothing ended, and no harm.
	"PurgeNothing": func(t *testing.T, st oidcop.Stores) {
		g := NewGrant(1)
		must(t, st.Grants.SaveGrant(ctx, g))
		if n, err := st.Retention.PurgeExpired(ctx, base, 10); err != nil || n != 0 {
			t.Errorf("PurgeExpired = %d, %v; want 0", n, err)
		}
		if _, err := st.Grants.Grant(ctx, g.ID); err != nil {
			t.Errorf("grant made at the cutoff: %v, want kept", err)
		}
	},
}
