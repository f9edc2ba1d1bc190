package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestServeRecordsAudit: the service run starts records security events
// in its database, and shows them at /users/me/audit.
func TestServeRecordsAudit(t *testing.T) {
	srv := start(t, []string{"USERSVC_DATA_DIR=" + t.TempDir()})
	api := srv.base + "/api/v1"
	if got := call(t, "POST", api+"/register", "", "application/json",
		`{"email":"ada@example.com","username":"ada","password":"correct horse"}`, nil); got != http.StatusCreated {
		t.Fatalf("register: status %d, want 201", got)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	form := url.Values{"username": {"ada"}, "password": {"correct horse"}}.Encode()
	if got := call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form, &tok); got != http.StatusOK {
		t.Fatalf("token: status %d, want 200", got)
	}
	var page struct {
		Items []struct{ Kind string } `json:"items"`
	}
	if got := call(t, "GET", api+"/users/me/audit", tok.AccessToken, "", "", &page); got != http.StatusOK {
		t.Fatalf("GET /users/me/audit: status %d, want 200", got)
	}
	kinds := make([]string, len(page.Items))
	for i, e := range page.Items {
		kinds[i] = e.Kind
	}
	if want := []string{"login.succeeded", "email.verification_sent", "user.registered"}; !slices.Equal(kinds, want) {
		t.Errorf("events: %v, want %v (newest first)", kinds, want)
	}
}

// TestAuditFailureLogged: an event that cannot be stored is logged at
// error level, and its request still succeeds.
func TestAuditFailureLogged(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	hasher, err := security.NewBcrypt(4)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := security.NewHS256([]byte(strings.Repeat("k", 32)), "test", time.Minute, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	svc := user.NewService(usertest.NewMemory(), hasher, tokens, auditOptions(failingAudit{}, log)...)
	if _, err := svc.Register(t.Context(), user.Registration{Email: "ada@example.com", Username: "ada", Password: "correct horse"}); err != nil {
		t.Fatalf("Register with a failing audit log: %v, want success", err)
	}
	var line struct{ Level, Msg, Error string }
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	if line.Level != "ERROR" || !strings.Contains(line.Msg, "audit") || line.Error != errAuditDown.Error() {
		t.Errorf("log line %+v; want an ERROR about the audit event with the cause", line)
	}
}

var errAuditDown = errors.New("audit table is gone")

type failingAudit struct{}

func (failingAudit) AppendAudit(context.Context, user.AuditEvent) error { return errAuditDown }
