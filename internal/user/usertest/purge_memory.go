package usertest

import (
	"context"
	"time"

	"github.com/usersvc/usersvc/internal/retention"
	"github.com/usersvc/usersvc/internal/user"
)

// memoryPurge is Memory's retention.Store.
type memoryPurge struct{ *Memory }

var _ retention.Store = memoryPurge{}

// Purge returns m's retention store, as postgres.DB.Purge and
// sqlite.DB.Purge do over a database.
func (m *Memory) Purge() retention.Store { return memoryPurge{m} }

// sessionEnded reports whether s expired or was revoked before before.
func sessionEnded(s user.Session, before time.Time) bool {
	return s.ExpiresAt.Before(before) || (!s.RevokedAt.IsZero() && s.RevokedAt.Before(before))
}

// usedOrExpired reports whether a token of those times was used or
// expired before before.
func usedOrExpired(expires, used, before time.Time) bool {
	return expires.Before(before) || (!used.IsZero() && used.Before(before))
}

// PurgeSessions implements retention.Store.
func (m memoryPurge) PurgeSessions(_ context.Context, before time.Time, limit int) (sessions, tokens int64, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failure(); err != nil {
		return 0, 0, err
	}
	for id, s := range m.sessions {
		if sessions == int64(limit) {
			break
		}
		if !sessionEnded(s, before) {
			continue
		}
		delete(m.sessions, id)
		sessions++
		for h, t := range m.refreshTokens {
			if t.SessionID == id {
				delete(m.refreshTokens, h)
				tokens++
			}
		}
	}
	return sessions, tokens, nil
}

// PurgeMFAChallenges implements retention.Store.
func (m memoryPurge) PurgeMFAChallenges(_ context.Context, before time.Time, limit int) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failure(); err != nil {
		return 0, err
	}
	var n int64
	for h, c := range m.challenges {
		if n == int64(limit) {
			break
		}
		if usedOrExpired(c.ExpiresAt, c.UsedAt, before) {
			delete(m.challenges, h)
			n++
		}
	}
	return n, nil
}

// PurgeAccountTokens implements retention.Store.
func (m memoryPurge) PurgeAccountTokens(_ context.Context, before time.Time, limit int) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failure(); err != nil {
		return 0, err
	}
	var n int64
	for h, t := range m.accountTokens {
		if n < int64(limit) && usedOrExpired(t.ExpiresAt, t.UsedAt, before) {
			delete(m.accountTokens, h)
			n++
		}
	}
	return n, nil
}

// PurgeEmailChanges implements retention.Store.
func (m memoryPurge) PurgeEmailChanges(_ context.Context, before time.Time, limit int) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failure(); err != nil {
		return 0, err
	}
	var n int64
	for h, c := range m.emailChanges {
		if n < int64(limit) && usedOrExpired(c.ExpiresAt, c.UsedAt, before) {
			delete(m.emailChanges, h)
			n++
		}
	}
	return n, nil
}

// Pending implements retention.Store.
func (m memoryPurge) Pending(_ context.Context, c retention.Cutoffs) (map[string]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failure(); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for id, s := range m.sessions {
		if c.Sessions.IsZero() || !sessionEnded(s, c.Sessions) {
			continue
		}
		out[retention.Sessions]++
		for _, t := range m.refreshTokens {
			if t.SessionID == id {
				out[retention.RefreshTokens]++
			}
		}
	}
	for _, t := range m.accountTokens {
		if !c.Tokens.IsZero() && usedOrExpired(t.ExpiresAt, t.UsedAt, c.Tokens) {
			out[retention.AccountTokens]++
		}
	}
	for _, e := range m.emailChanges {
		if !c.Tokens.IsZero() && usedOrExpired(e.ExpiresAt, e.UsedAt, c.Tokens) {
			out[retention.EmailChanges]++
		}
	}
	for _, e := range m.events {
		if !c.Audit.IsZero() && e.At.Before(c.Audit) {
			out[retention.AuditEvents]++
		}
	}
	for _, ch := range m.challenges {
		if !c.Challenges.IsZero() && usedOrExpired(ch.ExpiresAt, ch.UsedAt, c.Challenges) {
			out[retention.MFAChallenges]++
		}
	}
	for _, t := range append(retention.Tables, retention.MFAChallenges) {
		out[t] += 0
	}
	return out, nil
}

// Oldest implements retention.Store, exactly (the databases answer from
// their indexes, see postgres.Purge.Oldest).
func (m memoryPurge) Oldest(context.Context) (map[string]time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failure(); err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	older := func(table string, at time.Time) {
		if o, ok := out[table]; !ok || at.Before(o) {
			out[table] = at
		}
	}
	for _, s := range m.sessions {
		older(retention.Sessions, s.CreatedAt)
	}
	for _, t := range m.refreshTokens {
		older(retention.RefreshTokens, t.CreatedAt)
	}
	for _, t := range m.accountTokens {
		older(retention.AccountTokens, t.CreatedAt)
	}
	for _, c := range m.emailChanges {
		older(retention.EmailChanges, c.CreatedAt)
	}
	for _, e := range m.events {
		older(retention.AuditEvents, e.At)
	}
	return out, nil
}
