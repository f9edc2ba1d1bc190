// Package oidcoptest is the conformance suite every implementation of the
// oidcop store ports must pass, plus Memory, an in-memory database whose
// stores pass it.
package oidcoptest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/oidcop"
)

// base is the time the suite's rows are made at: microseconds, as the
// stores keep them.
var base = time.Date(2026, 12, 5, 10, 0, 0, 123456000, time.UTC)

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// NewAuthRequest returns a signed-in auth request numbered n, not stored.
func NewAuthRequest(n int) oidcop.AuthRequest {
	maxAge := uint(300)
	return oidcop.AuthRequest{
		ID: uuid.NewString(), ClientID: fmt.Sprintf("client-%d", n), RedirectURI: "https://rp.example.com/cb",
		State: "st", Nonce: "nn", Scopes: []string{"openid", "email"}, ResponseType: "code",
		CodeChallenge: "abc", CodeChallengeMethod: "S256", Prompt: []string{"login"}, MaxAge: &maxAge,
		CreatedAt: base, ExpiresAt: base.Add(10 * time.Minute), UserID: uuid.New(), SessionID: uuid.New(),
		AuthTime: base, AMR: []string{"pwd"}, ACR: "0", Done: true,
		HintSubject: uuid.NewString(), BrowserHash: hash(fmt.Sprint("browser ", n)), ConsentShownTo: uuid.New(),
	}
}

// NewGrant returns a live grant numbered n, not stored.
func NewGrant(n int) oidcop.Grant {
	return oidcop.Grant{
		ID: uuid.NewString(), ClientID: fmt.Sprintf("client-%d", n), UserID: uuid.New(), SessionID: uuid.New(),
		Scopes: []string{"openid", "offline_access"}, AMR: []string{"pwd"}, AuthTime: base, CreatedAt: base,
	}
}

// Run checks that the stores open returns follow every rule of the ports,
// in three groups: Grants, Consents and Retention. open must return the stores of a
// fresh, empty, migrated database each time, released in t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) oidcop.Stores) {
	t.Run("Grants", func(t *testing.T) {
		for name, test := range grantTests {
			t.Run(name, func(t *testing.T) { test(t, open(t).Grants) })
		}
	})
	t.Run("Consents", func(t *testing.T) {
		for name, test := range consentTests {
			t.Run(name, func(t *testing.T) { test(t, open(t).Consents) })
		}
	})
	t.Run("Retention", func(t *testing.T) {
		for name, test := range retentionTests {
			t.Run(name, func(t *testing.T) { test(t, open(t)) })
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var ctx = context.Background()

var grantTests = map[string]func(*testing.T, oidcop.Grants){
	"RevokeGrantsOf": func(t *testing.T, s oidcop.Grants) {
		g, other, otherUser := NewGrant(1), NewGrant(2), NewGrant(1)
		other.UserID = g.UserID
		for _, x := range []oidcop.Grant{g, other, otherUser} {
			must(t, s.SaveGrant(ctx, x))
		}
		must(t, s.RevokeGrantsOf(ctx, g.UserID, g.ClientID, base.Add(time.Hour)))
		for _, tt := range []struct {
			g       oidcop.Grant
			revoked bool
		}{{g, true}, {other, false}, {otherUser, false}} {
			got, err := s.Grant(ctx, tt.g.ID)
			must(t, err)
			if got.RevokedAt.IsZero() == tt.revoked {
				t.Errorf("grant of %s to %s: revoked at %v, want revoked %v", tt.g.UserID, tt.g.ClientID, got.RevokedAt, tt.revoked)
			}
		}
	},
	"GrantsOf": func(t *testing.T, s oidcop.Grants) {
		later, first, otherUser := NewGrant(2), NewGrant(1), NewGrant(1)
		later.UserID, later.CreatedAt = first.UserID, base.Add(time.Hour)
		for _, x := range []oidcop.Grant{later, first, otherUser} {
			must(t, s.SaveGrant(ctx, x))
		}
		must(t, s.RevokeGrant(ctx, first.ID, base.Add(2*time.Hour)))
		first.RevokedAt = base.Add(2 * time.Hour)
		got, err := s.GrantsOf(ctx, first.UserID)
		must(t, err)
		if diff := cmp.Diff([]oidcop.Grant{first, later}, got); diff != "" {
			t.Errorf("GrantsOf (-want +got):\n%s", diff)
		}
		none, err := s.GrantsOf(ctx, uuid.New())
		if err != nil || len(none) != 0 {
			t.Errorf("GrantsOf a user without grants = %v, %v; want none", none, err)
		}
	},
	"AuthRequestRoundTrip": func(t *testing.T, s oidcop.Grants) {
		r := NewAuthRequest(1)
		must(t, s.SaveAuthRequest(ctx, r))
		got, err := s.AuthRequest(ctx, r.ID)
		must(t, err)
		if diff := cmp.Diff(r, got); diff != "" {
			t.Fatalf("AuthRequest (-saved +read):\n%s", diff)
		}
		if _, err := s.AuthRequest(ctx, uuid.NewString()); !errors.Is(err, oidcop.ErrNotFound) {
			t.Fatalf("AuthRequest(unknown) = %v, want ErrNotFound", err)
		}
	},
	"SaveReplaces": func(t *testing.T, s oidcop.Grants) {
		r := NewAuthRequest(1)
		r.Done, r.UserID = false, uuid.Nil
		must(t, s.SaveAuthRequest(ctx, r))
		r.Done, r.UserID, r.CodeHash, r.GrantID = true, uuid.New(), hash("code"), "g1"
		must(t, s.SaveAuthRequest(ctx, r))
		got, err := s.AuthRequest(ctx, r.ID)
		must(t, err)
		if diff := cmp.Diff(r, got); diff != "" {
			t.Fatalf("after the second save (-saved +read):\n%s", diff)
		}
	},
	"CodeHashIsKept": func(t *testing.T, s oidcop.Grants) {
		r := NewAuthRequest(1)
		r.CodeHash = hash("code-1")
		must(t, s.SaveAuthRequest(ctx, r))
		r.SentToSignIn = true
		must(t, s.SaveAuthRequest(ctx, r)) // the same code: a plain update
		for _, second := range [][]byte{hash("code-2"), nil} {
			next := r
			next.CodeHash, next.GrantID = second, "g2"
			if err := s.SaveAuthRequest(ctx, next); !errors.Is(err, oidcop.ErrCodeIssued) {
				t.Errorf("saving code hash %x over a stored one = %v, want ErrCodeIssued", second, err)
			}
		}
		got, err := s.AuthRequest(ctx, r.ID)
		must(t, err)
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("after the refused saves (-first +read):\n%s", diff)
		}
		if _, err := s.UseCode(ctx, hash("code-2"), NewGrant(2)); !errors.Is(err, oidcop.ErrNotFound) {
			t.Errorf("UseCode(second code) = %v, want ErrNotFound", err)
		}
	},
	"UsedRequestIsFinal": func(t *testing.T, s oidcop.Grants) {
		r := NewAuthRequest(1)
		r.CodeHash = hash("code")
		must(t, s.SaveAuthRequest(ctx, r))
		g := NewGrant(1)
		used, err := s.UseCode(ctx, hash("code"), g)
		must(t, err)
		for name, stale := range map[string]oidcop.AuthRequest{"read before the use": r, "read after it": used} {
			stale.SentToSignIn, stale.GrantID = !stale.SentToSignIn, ""
			if err := s.SaveAuthRequest(ctx, stale); !errors.Is(err, oidcop.ErrCodeUsed) {
				t.Errorf("saving the request %s over its used code = %v, want ErrCodeUsed", name, err)
			}
		}
		if got, err := s.AuthRequest(ctx, r.ID); err != nil || got.GrantID != g.ID || got.SentToSignIn != r.SentToSignIn {
			t.Errorf("the request after the refused saves = %+v, %v; want it as used, naming grant %s", got, err, g.ID)
		}
		if got, err := s.UseCode(ctx, hash("code"), NewGrant(2)); !errors.Is(err, oidcop.ErrCodeUsed) || got.GrantID != g.ID {
			t.Errorf("a replay of the code = grant %q, %v; want ErrCodeUsed naming %s", got.GrantID, err, g.ID)
		}
	},
	"DoneRequestTakesOnlyItsCode": func(t *testing.T, s oidcop.Grants) {
		pending := NewAuthRequest(1)
		pending.Done, pending.UserID = false, uuid.Nil
		must(t, s.SaveAuthRequest(ctx, pending))
		denied := pending
		denied.Done = true // a "deny": done, no user
		must(t, s.SaveAuthRequest(ctx, denied))
		allowed := pending
		allowed.Done, allowed.UserID = true, uuid.New() // an "allow" read before the deny
		sentAgain := pending
		sentAgain.SentToSignIn = !pending.SentToSignIn // a step that leaves it pending
		for name, stale := range map[string]oidcop.AuthRequest{"done": allowed, "pending": sentAgain} {
			if err := s.SaveAuthRequest(ctx, stale); !errors.Is(err, oidcop.ErrRequestDone) {
				t.Errorf("saving a copy made %s, read before the request was done, over it = %v, want ErrRequestDone", name, err)
			}
		}
		got, err := s.AuthRequest(ctx, pending.ID)
		must(t, err)
		if diff := cmp.Diff(denied, got); diff != "" {
			t.Fatalf("after the refused saves (-done +read):\n%s", diff)
		}
		coded := got
		coded.CodeHash, coded.ExpiresAt = hash("code"), base.Add(time.Minute) // its code: SaveAuthCode
		must(t, s.SaveAuthRequest(ctx, coded))
		if got, err := s.AuthRequest(ctx, pending.ID); err != nil || !cmp.Equal(coded, got) {
			t.Errorf("the done request after its code was saved = %+v, %v; want %+v", got, err, coded)
		}
	},
	"CodeIsSingleUse": func(t *testing.T, s oidcop.Grants) {
		r := NewAuthRequest(1)
		r.CodeHash = hash("code-1")
		must(t, s.SaveAuthRequest(ctx, r))
		other := NewAuthRequest(2)
		other.CodeHash = hash("code-2")
		must(t, s.SaveAuthRequest(ctx, other))
		g := NewGrant(1)
		got, err := s.UseCode(ctx, hash("code-1"), g)
		if err != nil || got.ID != r.ID || got.GrantID != g.ID {
			t.Fatalf("first UseCode = %v naming grant %q, %v; want request %s naming %s", got.ID, got.GrantID, err, r.ID, g.ID)
		}
		stored, err := s.Grant(ctx, g.ID)
		if err != nil || stored.ID != g.ID {
			t.Fatalf("the first use's grant = %+v, %v; want it stored", stored, err)
		}
		if read, err := s.AuthRequest(ctx, r.ID); err != nil || read.GrantID != g.ID {
			t.Fatalf("the request after the use names grant %q (%v), want %s", read.GrantID, err, g.ID)
		}
		second := NewGrant(3)
		got, err = s.UseCode(ctx, hash("code-1"), second)
		if !errors.Is(err, oidcop.ErrCodeUsed) || got.ID != r.ID || got.GrantID != g.ID {
			t.Fatalf("second UseCode = %v naming grant %q, %v; want ErrCodeUsed with request %s naming %s", got.ID, got.GrantID, err, r.ID, g.ID)
		}
		if _, err := s.Grant(ctx, second.ID); !errors.Is(err, oidcop.ErrNotFound) {
			t.Errorf("the second use's grant: %v, want not stored", err)
		}
		if _, err := s.UseCode(ctx, hash("code-3"), NewGrant(4)); !errors.Is(err, oidcop.ErrNotFound) {
			t.Fatalf("UseCode(unknown) = %v, want ErrNotFound", err)
		}
		if got, err := s.UseCode(ctx, hash("code-2"), NewGrant(2)); err != nil || got.ID != other.ID {
			t.Fatalf("the other request's code = %v, %v; want it unused", got.ID, err)
		}
	},
	"ConcurrentCodeUseHasOneWinner": func(t *testing.T, s oidcop.Grants) {
		r := NewAuthRequest(1)
		r.CodeHash = hash("code")
		must(t, s.SaveAuthRequest(ctx, r))
		var wg sync.WaitGroup
		grants, used, errs := make([]oidcop.Grant, 8), make([]oidcop.AuthRequest, 8), make([]error, 8)
		for i := range errs {
			grants[i] = NewGrant(i)
			wg.Go(func() { used[i], errs[i] = s.UseCode(ctx, hash("code"), grants[i]) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("uses %d and %d of one code both succeeded", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, oidcop.ErrCodeUsed):
				t.Errorf("UseCode = %v, want nil or ErrCodeUsed", err)
			}
		}
		if winner < 0 {
			t.Fatal("no use of the code succeeded")
		}
		for i := range errs {
			if used[i].GrantID != grants[winner].ID {
				t.Errorf("use %d found grant %q named, want the winner's %s", i, used[i].GrantID, grants[winner].ID)
			}
			if _, err := s.Grant(ctx, grants[i].ID); (err == nil) != (i == winner) {
				t.Errorf("use %d's grant: %v; want only the winner's stored", i, err)
			}
		}
	},
	"GrantRevocation": func(t *testing.T, s oidcop.Grants) {
		g := NewGrant(1)
		must(t, s.SaveGrant(ctx, g))
		got, err := s.Grant(ctx, g.ID)
		must(t, err)
		if diff := cmp.Diff(g, got); diff != "" {
			t.Fatalf("Grant (-saved +read):\n%s", diff)
		}
		must(t, s.RevokeGrant(ctx, g.ID, base.Add(time.Minute)))
		must(t, s.RevokeGrant(ctx, g.ID, base.Add(time.Hour)))
		if got, _ := s.Grant(ctx, g.ID); !got.RevokedAt.Equal(base.Add(time.Minute)) {
			t.Fatalf("RevokedAt = %v, want the first revocation %v", got.RevokedAt, base.Add(time.Minute))
		}
		if err := s.RevokeGrant(ctx, uuid.NewString(), base); !errors.Is(err, oidcop.ErrNotFound) {
			t.Fatalf("RevokeGrant(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := s.Grant(ctx, uuid.NewString()); !errors.Is(err, oidcop.ErrNotFound) {
			t.Fatalf("Grant(unknown) = %v, want ErrNotFound", err)
		}
	},
	"RefreshTokenIsSingleUse": func(t *testing.T, s oidcop.Grants) {
		g := NewGrant(1)
		must(t, s.SaveGrant(ctx, g))
		rt := oidcop.RefreshToken{Hash: hash("rt"), GrantID: g.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
		must(t, s.AddRefreshToken(ctx, rt, nil))
		for range 2 { // reading changes nothing
			got, err := s.RefreshToken(ctx, hash("rt"))
			must(t, err)
			if diff := cmp.Diff(rt, got); diff != "" {
				t.Fatalf("RefreshToken (-added +read):\n%s", diff)
			}
		}
		next := oidcop.RefreshToken{Hash: hash("next"), GrantID: g.ID, CreatedAt: base.Add(time.Second), ExpiresAt: base.Add(time.Hour)}
		must(t, s.AddRefreshToken(ctx, next, hash("rt")))
		want := rt
		want.UsedAt = next.CreatedAt
		if got, err := s.RefreshToken(ctx, hash("rt")); err != nil || !cmp.Equal(want, got) {
			t.Fatalf("the replaced token = %+v, %v; want it used at its successor's creation", got, err)
		}
		if got, err := s.RefreshToken(ctx, hash("next")); err != nil || !cmp.Equal(next, got) {
			t.Fatalf("the successor = %+v, %v; want it stored unused", got, err)
		}
		again := oidcop.RefreshToken{Hash: hash("again"), GrantID: g.ID, CreatedAt: base.Add(2 * time.Second), ExpiresAt: base.Add(time.Hour)}
		if err := s.AddRefreshToken(ctx, again, hash("rt")); !errors.Is(err, oidcop.ErrRefreshReused) {
			t.Fatalf("replacing a used token = %v, want ErrRefreshReused", err)
		}
		if err := s.AddRefreshToken(ctx, again, hash("other")); !errors.Is(err, oidcop.ErrNotFound) {
			t.Fatalf("replacing an unknown token = %v, want ErrNotFound", err)
		}
		if _, err := s.RefreshToken(ctx, hash("again")); !errors.Is(err, oidcop.ErrNotFound) {
			t.Fatalf("the successor of a refused replacement = %v, want it not stored", err)
		}
		if _, err := s.RefreshToken(ctx, hash("other")); !errors.Is(err, oidcop.ErrNotFound) {
			t.Fatalf("RefreshToken(unknown) = %v, want ErrNotFound", err)
		}
	},
	"ConcurrentRefreshRotationHasOneWinner": func(t *testing.T, s oidcop.Grants) {
		g := NewGrant(1)
		must(t, s.SaveGrant(ctx, g))
		must(t, s.AddRefreshToken(ctx, oidcop.RefreshToken{Hash: hash("rt"), GrantID: g.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}, nil))
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			next := oidcop.RefreshToken{Hash: hash(fmt.Sprint("next ", i)), GrantID: g.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
			wg.Go(func() { errs[i] = s.AddRefreshToken(ctx, next, hash("rt")) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, oidcop.ErrRefreshReused):
				t.Errorf("AddRefreshToken = %v, want nil or ErrRefreshReused", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d rotations of one token succeeded, want 1", won)
		}
	},
}

var consentTests = map[string]func(*testing.T, oidcop.Consents){
	"SaveReadReplaceDelete": func(t *testing.T, s oidcop.Consents) {
		u := uuid.New()
		c := oidcop.Consent{UserID: u, ClientID: "b-client", Scopes: []string{"openid", "email"}, UpdatedAt: base}
		must(t, s.SaveConsent(ctx, c))
		must(t, s.SaveConsent(ctx, oidcop.Consent{UserID: u, ClientID: "a-client", Scopes: []string{"openid"}, UpdatedAt: base}))
		must(t, s.SaveConsent(ctx, oidcop.Consent{UserID: uuid.New(), ClientID: "b-client", Scopes: []string{"openid"}, UpdatedAt: base}))
		got, err := s.Consent(ctx, u, "b-client")
		must(t, err)
		if diff := cmp.Diff(c, got); diff != "" {
			t.Fatalf("Consent (-saved +read):\n%s", diff)
		}
		c.Scopes, c.UpdatedAt = []string{"openid", "email", "profile"}, base.Add(time.Hour)
		must(t, s.SaveConsent(ctx, c))
		if got, _ := s.Consent(ctx, u, "b-client"); !cmp.Equal(c, got) {
			t.Fatalf("after replacing: %+v, want %+v", got, c)
		}
		list, err := s.ConsentsOf(ctx, u)
		must(t, err)
		if len(list) != 2 || list[0].ClientID != "a-client" || list[1].ClientID != "b-client" {
			t.Fatalf("ConsentsOf = %+v, want a-client then b-client", list)
		}
		must(t, s.DeleteConsent(ctx, u, "b-client"))
		if _, err := s.Consent(ctx, u, "b-client"); !errors.Is(err, oidcop.ErrNotFound) {
			t.Fatalf("Consent after delete = %v, want ErrNotFound", err)
		}
		if err := s.DeleteConsent(ctx, u, "b-client"); !errors.Is(err, oidcop.ErrNotFound) {
			t.Fatalf("second DeleteConsent = %v, want ErrNotFound", err)
		}
	},
}
