package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/oidcop/oidcoptest"
	"github.com/usersvc/usersvc/internal/retention"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestRetentionCommand: `retention run --dry-run` counts a session that
// ended 40 days ago and removes nothing; `retention run` removes it and
// keeps a live one.
func TestRetentionCommand(t *testing.T) {
	dir := t.TempDir()
	environ := []string{"USERSVC_DATA_DIR=" + dir}
	if err := run(context.Background(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, app.SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := db.Stores()
	ada, err := st.Users.Create(t.Context(), usertest.NewUser(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{time.Now().Add(-40 * 24 * time.Hour), time.Now()} {
		s, rt := usertest.NewSession(ada.ID, at)
		if err := st.Sessions.Create(t.Context(), s, rt); err != nil {
			t.Fatal(err)
		}
	}
	// An audit event older than USERSVC_AUDIT_RETENTION (400 days) and a
	// recent one: retention removes the first through the audit log's prune
	// path, which records an audit.pruned event.
	for _, at := range []time.Time{time.Now().Add(-500 * 24 * time.Hour), time.Now()} {
		if err := st.Audit.Append(t.Context(), user.AuditEvent{At: at, Kind: user.AuditLoginSucceeded, ActorID: ada.ID, SubjectID: ada.ID}); err != nil {
			t.Fatal(err)
		}
	}
	retentionRun := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"retention", "run"}, args...), environ, &out); err != nil {
			t.Fatalf("retention run %v: %v", args, err)
		}
		return out.String()
	}
	sessions := regexp.MustCompile(`(?m)^sessions +(\d+)$`)
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"--dry-run"}, "1"},
		{[]string{"--dry-run"}, "1"}, // a dry run removes nothing
		{nil, "1"},
		{[]string{"--dry-run"}, "0"},
	} {
		out := retentionRun(step.args...)
		if m := sessions.FindStringSubmatch(out); m == nil || m[1] != step.want {
			t.Errorf("retention run %v printed %q, want %s sessions", step.args, out, step.want)
		}
	}
	if all, err := st.Sessions.All(t.Context(), ada.ID, user.SessionPage{}); err != nil || len(all) != 1 {
		t.Errorf("sessions left: %d, %v; want the live one", len(all), err)
	}
	logins, err := st.Audit.Events(t.Context(), user.AuditFilter{SubjectID: ada.ID})
	if err != nil || len(logins) != 1 || time.Since(logins[0].At) > time.Hour {
		t.Errorf("audit events of the account left: %v, %v; want the recent one only", logins, err)
	}
	pruned, err := st.Audit.Events(t.Context(), user.AuditFilter{Kinds: []user.AuditKind{user.AuditPruned}})
	if err != nil || len(pruned) != 1 || pruned[0].Detail["events"] != "1" || pruned[0].UserAgent != "usersvc retention" {
		t.Errorf("audit.pruned events: %+v, %v; want one recording the removal by retention", pruned, err)
	}
	for _, args := range [][]string{{"retention"}, {"retention", "walk"}, {"retention", "run", "--wet"}} {
		if err := run(context.Background(), args, environ, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded, want a usage error", args)
		}
	}
}

// TestRetentionCommandOIDCState: `retention run --dry-run` prints, under
// oidc_state, how many of the OpenID provider's rows ended more than
// retention.TokenRetention ago (expired requests with their codes, an
// expired refresh token, a revoked grant with its token) and removes
// nothing; `retention run` prints and removes exactly them, and the live
// request, grant and refresh token stay.
func TestRetentionCommandOIDCState(t *testing.T) {
	dir := t.TempDir()
	environ := []string{"USERSVC_DATA_DIR=" + dir}
	ctx := t.Context()
	if err := run(ctx, []string{"migrate", "up"}, environ, io.Discard); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, app.SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := db.OIDC().Grants
	now := time.Now().UTC()
	long := now.Add(-retention.TokenRetention - time.Hour)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var old []oidcop.AuthRequest
	for i := range 3 {
		r := oidcoptest.NewAuthRequest(i)
		r.ExpiresAt, r.CodeHash = long, []byte(fmt.Sprint("old code ", i))
		must(st.SaveAuthRequest(ctx, r))
		old = append(old, r)
	}
	live := oidcoptest.NewAuthRequest(9)
	live.ExpiresAt, live.CodeHash = now.Add(time.Minute), []byte("live code")
	must(st.SaveAuthRequest(ctx, live))
	ended, kept := oidcoptest.NewGrant(1), oidcoptest.NewGrant(2)
	must(st.SaveGrant(ctx, ended))
	must(st.SaveGrant(ctx, kept))
	must(st.AddRefreshToken(ctx, oidcop.RefreshToken{Hash: []byte("ended's"), GrantID: ended.ID, CreatedAt: long, ExpiresAt: now.Add(time.Hour)}, nil))
	must(st.RevokeGrant(ctx, ended.ID, long))
	must(st.AddRefreshToken(ctx, oidcop.RefreshToken{Hash: []byte("expired"), GrantID: kept.ID, CreatedAt: long, ExpiresAt: long}, nil))
	must(st.AddRefreshToken(ctx, oidcop.RefreshToken{Hash: []byte("live"), GrantID: kept.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, nil))
	const want = "6" // 3 requests, the expired token, the revoked grant and its token

	oidcState := regexp.MustCompile(`(?m)^oidc_state +(\d+)$`)
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"--dry-run"}, want},
		{[]string{"--dry-run"}, want}, // a dry run removes nothing
		{nil, want},
		{[]string{"--dry-run"}, "0"},
		{nil, "0"},
	} {
		var out bytes.Buffer
		if err := run(ctx, append([]string{"retention", "run"}, step.args...), environ, &out); err != nil {
			t.Fatalf("retention run %v: %v", step.args, err)
		}
		if m := oidcState.FindStringSubmatch(out.String()); m == nil || m[1] != step.want {
			t.Errorf("retention run %v printed %q, want %s rows of oidc_state", step.args, out.String(), step.want)
		}
	}
	for _, r := range old {
		if _, err := st.AuthRequest(ctx, r.ID); !errors.Is(err, oidcop.ErrNotFound) {
			t.Errorf("expired request: %v, want removed", err)
		}
	}
	if _, err := st.Grant(ctx, ended.ID); !errors.Is(err, oidcop.ErrNotFound) {
		t.Errorf("revoked grant: %v, want removed", err)
	}
	if _, err := st.RefreshToken(ctx, []byte("expired")); !errors.Is(err, oidcop.ErrNotFound) {
		t.Errorf("expired refresh token: %v, want removed", err)
	}
	if _, err := st.UseCode(ctx, live.CodeHash, oidcoptest.NewGrant(3)); err != nil {
		t.Errorf("live request's code: %v, want kept", err)
	}
	if _, err := st.Grant(ctx, kept.ID); err != nil {
		t.Errorf("live grant: %v, want kept", err)
	}
	if _, err := st.RefreshToken(ctx, []byte("live")); err != nil {
		t.Errorf("live grant's refresh token: %v, want kept", err)
	}
}
