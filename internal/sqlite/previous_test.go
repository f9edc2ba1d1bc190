package sqlite_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/storetest"
)

// TestRowsOfThePreviousRelease: rows the release before migration 00008
// writes, with that release's statements (no recovery_email,
// authenticated_at or token_version), read as it meant them, and this
// release's writes work on them.
func TestRowsOfThePreviousRelease(t *testing.T) {
	db := storetest.SQLite(t)
	r := storetest.NewPreviousRelease()
	u, s, rt, tok := r.User, r.Session, r.Refresh, r.Reset
	for _, row := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO users (id, email, username, hashed_password, full_name, role, email_verified)
			VALUES (?, ?, ?, ?, NULLIF(?, ''), COALESCE(NULLIF(?, ''), 'user'), ?)`,
			[]any{u.ID, u.Email, u.Username, u.PasswordHash, u.FullName, string(u.Role), u.EmailVerified}},
		{`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			[]any{s.ID, s.UserID, sqlite.TS(s.CreatedAt), sqlite.TS(s.LastUsedAt), sqlite.TS(s.ExpiresAt), s.UserAgent, s.IP}},
		{`INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			[]any{rt.Hash, rt.SessionID, sqlite.TS(rt.CreatedAt), sqlite.TS(rt.ExpiresAt)}},
		{`INSERT INTO account_tokens (hash, user_id, purpose, email, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			[]any{tok.Hash, tok.UserID, string(tok.Purpose), tok.Email, sqlite.TS(tok.CreatedAt), sqlite.TS(tok.ExpiresAt)}},
	} {
		if _, err := db.Writer().ExecContext(t.Context(), row.q, row.args...); err != nil {
			t.Fatalf("insert as the previous release: %v", err)
		}
	}
	r.Check(t, db.Stores())
}
