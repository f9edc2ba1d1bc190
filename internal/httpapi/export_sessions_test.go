package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// addEndedSessions stores n sessions of userID that ended before now, as
// logins beyond USERSVC_MAX_SESSIONS_PER_USER leave them for
// USERSVC_SESSION_RETENTION (ten logins a minute, the per-account limit,
// leave 432,000 in 30 days), a second apart, in transactions of a
// thousand; it returns their ids, oldest first.
func (s *server) addEndedSessions(userID uuid.UUID, n int) []string {
	s.t.Helper()
	at := s.Clock.Now().Add(-time.Duration(n+1) * time.Second)
	ids := make([]string, 0, n)
	for done := 0; done < n; {
		batch := min(1000, n-done)
		err := s.Stores.Tx.Atomic(s.t.Context(), func(tx user.Stores) error {
			for range batch {
				sess, rt := usertest.NewSession(userID, at)
				sess.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
				sess.ExpiresAt = at.Add(time.Second)
				if err := tx.Sessions.Create(s.t.Context(), sess, rt); err != nil {
					return err
				}
				ids = append(ids, sess.ID.String())
				at = at.Add(time.Second)
			}
			return nil
		})
		if err != nil {
			s.t.Fatalf("add sessions: %v", err)
		}
		done += batch
	}
	return ids
}

// TestExportSessionsStreamed: the export holds a page of sessions, not
// every one, and still has each exactly once, oldest first. An account
// keeps every session that ended within USERSVC_SESSION_RETENTION, which
// logins at the per-account limit make hundreds of thousands; the export
// read them all into memory at once (and again as the document's shape),
// so a few such exports at once could take the server's memory. Not
// parallel, so that no other test's allocations are measured.
func TestExportSessionsStreamed(t *testing.T) {
	for _, kind := range []string{apptest.Memory, apptest.SQLite, apptest.Postgres} {
		t.Run(kind, func(t *testing.T) {
			const many = 8_000
			s := newServer(t, kind)
			held := map[int]uint64{}
			var body int
			for _, n := range []int{user.ExportPage, many} {
				_, tok := s.signedUp()
				me := s.do(req{method: "GET", path: "/api/v1/users/me", token: tok}).object(t)
				id := uuid.MustParse(me["id"].(string))
				ids := s.addEndedSessions(id, n)
				held[n], body = s.exportHeap(tok)
				s.exportHasSessions(tok, ids)
			}
			t.Logf("%s: held at most %d KiB exporting %d sessions, %d KiB exporting %d (a %d KiB document)",
				kind, held[user.ExportPage]>>10, user.ExportPage, held[many]>>10, many, body>>10)
			const slack = 2 << 20
			if held[many] > held[user.ExportPage]+slack || held[many] > uint64(body)/2 {
				t.Errorf("exporting %d sessions held %d KiB (%d KiB for %d), for a %d KiB document: want about one page's worth",
					many, held[many]>>10, held[user.ExportPage]>>10, user.ExportPage, body>>10)
			}
		})
	}
}

// exportHasSessions checks that the export of tok lists the sessions
// stored (ids, oldest first) and then the login of tok, each once.
func (s *server) exportHasSessions(tok string, stored []string) {
	s.t.Helper()
	res := s.do(req{method: "GET", path: "/api/v1/users/me/export", token: tok})
	if res.Status != http.StatusOK {
		s.t.Fatalf("export: %v", res)
	}
	var doc struct {
		Sessions []struct {
			ID string `json:"id"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		s.t.Fatalf("export: %v", err)
	}
	got := make([]string, len(doc.Sessions))
	for i, e := range doc.Sessions {
		got[i] = e.ID
	}
	if len(got) != len(stored)+1 || strings.Join(got[:len(stored)], ",") != strings.Join(stored, ",") {
		s.t.Errorf("export has %d sessions, want the %d stored, oldest first, then the login's", len(got), len(stored))
	}
}
