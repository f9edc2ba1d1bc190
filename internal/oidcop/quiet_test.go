package oidcop_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/oidcop"
)

// quietDefault makes slog's default logger, the one zitadel's op logs
// through, write JSON to the returned buffer through QuietRefusals, as
// usersvc serve does, until the test ends. Tests that call it change
// process-wide state, so they do not run in parallel.
func quietDefault(t *testing.T) *apptest.Buffer {
	t.Helper()
	prev, w, flags := slog.Default(), log.Writer(), log.Flags()
	t.Cleanup(func() { slog.SetDefault(prev); log.SetOutput(w); log.SetFlags(flags) })
	buf := &apptest.Buffer{}
	slog.SetDefault(slog.New(oidcop.QuietRefusals(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	return buf
}

// logLines are the JSON log lines in b.
func logLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

// TestAuthorizeRefusalLogsOneInfoLine: an authorization request refused
// because it cannot go back to its client is logged once, at INFO, by the
// provider (op's error type and description), instead of zitadel's WARN,
// and nothing of the request's redirect URI or client is in any log. An
// authorization error op does send back to the client keeps op's line.
func TestAuthorizeRefusalLogsOneInfoLine(t *testing.T) {
	opLog := quietDefault(t)
	f := newFixture(t, apptest.SQLite)
	for _, tt := range []struct {
		name, url string
	}{
		{"unregistered redirect URI", f.authorizeURL(codeRequest(webClient, evilURI))},
		{"unknown client", f.authorizeURL(codeRequest("no-such-client", evilURI))},
		{"malformed query", f.base + oidcop.AuthorizePath + "?client_id=" + webClient + "&redirect_uri=%zz" + url.QueryEscape(evilURI)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opBefore, ownBefore := len(opLog.Bytes()), len(f.srv.Logs.Bytes())
			status, h, page := f.browser().get(tt.url)
			if status != http.StatusBadRequest || h.Get("Location") != "" {
				t.Fatalf("%d to %q, want the 400 refusal\n%s", status, h.Get("Location"), page)
			}
			if got := opLog.Bytes()[opBefore:]; len(got) != 0 {
				t.Errorf("op logged through the default logger: %s", got)
			}
			own := f.srv.Logs.Bytes()[ownBefore:]
			var refusals []map[string]any
			for _, l := range logLines(t, own) {
				if strings.HasPrefix(l["msg"].(string), "authorization request refused") {
					refusals = append(refusals, l)
				}
			}
			if len(refusals) != 1 {
				t.Fatalf("%d refusal lines, want 1:\n%s", len(refusals), own)
			}
			if l := refusals[0]; l["level"] != "INFO" || l["error"] != "invalid_request" || l["description"] == "" {
				t.Errorf("refusal line %v, want INFO with op's error type invalid_request and its description", l)
			}
			for _, secret := range []string{"evil.example", "no-such-client", "code_challenge", "state"} {
				if bytes.Contains(own, []byte(secret)) {
					t.Errorf("the log has %q of the request:\n%s", secret, own)
				}
			}
		})
	}
	t.Run("error sent back to the client", func(t *testing.T) {
		opBefore := len(opLog.Bytes())
		q := codeRequest(webClient, rpOrigin+"/cb")
		q.Set("response_type", "token") // not the client's
		status, h, page := f.browser().get(f.authorizeURL(q))
		if status != http.StatusFound || !strings.HasPrefix(h.Get("Location"), rpOrigin+"/cb") {
			t.Fatalf("%d to %q, want the error sent back to the client\n%s", status, h.Get("Location"), page)
		}
		lines := logLines(t, opLog.Bytes()[opBefore:])
		if len(lines) != 1 || lines[0]["level"] != "WARN" || !strings.HasPrefix(lines[0]["msg"].(string), "auth request") {
			t.Errorf("op's lines %v, want its one WARN auth request line", lines)
		}
	})
}
