package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestFailedMailIsKeptAndRetried: a mail the mail server refuses for good
// stays as a job with its last error; an administrator (and no one else)
// lists it and runs it again, which is audited, and the mail goes out.
func TestFailedMailIsKeptAndRetried(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin, adminID := s.signUp()
		s.setRole(adminID, user.RoleAdmin)
		adminTok := s.token(admin.Username, admin.Password)
		s.nextMail(usertest.MailVerify, admin.Email)

		s.Mail.SetFail(fmt.Errorf("%w: 550 mailbox unavailable", user.ErrUndeliverable))
		bob, _ := s.signUp()
		bobTok := s.token(bob.Username, bob.Password)
		list := func(token string) response {
			return s.do(req{method: "GET", path: "/api/v1/admin/jobs?state=cancelled", token: token})
		}
		wantProblem(t, list(bobTok), http.StatusForbidden, "")
		var failed struct {
			Jobs []struct {
				ID        int64  `json:"id"`
				Kind      string `json:"kind"`
				Queue     string `json:"queue"`
				LastError string `json:"last_error"`
			} `json:"jobs"`
		}
		for deadline := time.Now().Add(10 * time.Second); len(failed.Jobs) == 0; {
			if time.Now().After(deadline) {
				t.Fatal("the refused mail never showed as a failed job")
			}
			res := list(adminTok)
			if res.Status != http.StatusOK {
				t.Fatalf("list jobs: %v", res)
			}
			if err := json.Unmarshal(res.Body, &failed); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond) // polls the job's state, a wait with a deadline
		}
		j := failed.Jobs[0]
		if j.Kind != "mail" || j.Queue != "mail" || !strings.Contains(j.LastError, "550") {
			t.Errorf("failed job: %+v, want the verification mail with its error", j)
		}

		s.Mail.SetFail(nil)
		retry := func(token string) response {
			return s.do(req{method: "POST", path: fmt.Sprintf("/api/v1/admin/jobs/%d/retry", j.ID), token: token})
		}
		wantProblem(t, retry(bobTok), http.StatusForbidden, "")
		if res := retry(adminTok); res.Status != http.StatusOK {
			t.Fatalf("retry: %v, want 200", res)
		}
		s.nextMail(usertest.MailVerify, bob.Email)
		audit := s.do(req{method: "GET", path: "/api/v1/admin/audit?kind=admin.job_retried", token: adminTok})
		if audit.Status != http.StatusOK || !strings.Contains(string(audit.Body), fmt.Sprintf(`"job_id":"%d"`, j.ID)) {
			t.Errorf("audit of the retry: %v", audit)
		}
	})
}

// TestDeliveredMailIsNotSentAgain: a mail that went out is done. An
// administrator's retry of it (River would run a completed job again)
// would mail its link a second time: a password reset link already used,
// or one the user never asked to have again. It is refused with 409 and
// the job stays completed.
func TestDeliveredMailIsNotSentAgain(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin, adminID := s.signUp()
		s.setRole(adminID, user.RoleAdmin)
		adminTok := s.token(admin.Username, admin.Password)
		s.nextMail(usertest.MailVerify, admin.Email)
		bob, _ := s.signUp()
		s.nextMail(usertest.MailVerify, bob.Email)
		if res := s.do(req{method: "POST", path: "/api/v1/password-reset", body: jsonBody(map[string]string{"email": bob.Email})}); res.Status != http.StatusAccepted {
			t.Fatalf("password-reset: %v, want 202", res)
		}
		reset := s.nextMail(usertest.MailReset, bob.Email)
		confirm := s.do(req{method: "POST", path: "/api/v1/password-reset/confirm", body: jsonBody(map[string]string{"token": reset.Token, "new_password": "an entirely new passphrase"})})
		if confirm.Status/100 != 2 {
			t.Fatalf("reset: %v, want success", confirm)
		}

		id := s.completedJob(adminTok, "mail_security")
		res := s.do(req{method: "POST", path: fmt.Sprintf("/api/v1/admin/jobs/%d/retry", id), token: adminTok})
		wantProblem(t, res, http.StatusConflict, "")
		if code := res.object(t)["code"]; code != "job_completed" {
			t.Errorf("code: got %v, want job_completed", code)
		}
	})
}

// completedJob returns the id of a job of queue that has completed, once
// the listing shows one (the queue marks a job completed a moment after
// its work is done).
func (s *server) completedJob(adminTok, queue string) int64 {
	s.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		res := s.do(req{method: "GET", path: "/api/v1/admin/jobs?state=completed", token: adminTok})
		if res.Status != http.StatusOK {
			s.t.Fatalf("list jobs: %v", res)
		}
		var done struct {
			Jobs []struct {
				ID    int64  `json:"id"`
				Queue string `json:"queue"`
			} `json:"jobs"`
		}
		if err := json.Unmarshal(res.Body, &done); err != nil {
			s.t.Fatal(err)
		}
		for _, j := range done.Jobs {
			if j.Queue == queue {
				return j.ID
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no job of %s showed as completed", queue)
		}
		time.Sleep(10 * time.Millisecond) // polls the job's state, a wait with a deadline
	}
}
