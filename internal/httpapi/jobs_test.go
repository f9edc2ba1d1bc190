package httpapi_test

import (
	"encoding/json"
	"errors"
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
		_, adminTok := s.mailedAdmin()

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
			return s.retryJob(token, j.ID)
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
		_, adminTok := s.mailedAdmin()
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
		res := s.retryJob(adminTok, id)
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
	return s.jobIn(adminTok, "completed", queue)
}

// mailedAdmin signs up an administrator whose verification mail has gone
// out, and signs them in.
func (s *server) mailedAdmin() (account, string) {
	s.t.Helper()
	admin, id := s.signUp()
	s.setRole(id, user.RoleAdmin)
	tok := s.token(admin.Username, admin.Password)
	s.nextMail(usertest.MailVerify, admin.Email)
	return admin, tok
}

// retryJob asks, with token, for the job id to run again.
func (s *server) retryJob(token string, id int64) response {
	return s.do(req{method: "POST", path: fmt.Sprintf("/api/v1/admin/jobs/%d/retry", id), token: token})
}

// retriedToTheEnd retries the job id as the administrator adminTok and
// returns it once it has finished.
func (s *server) retriedToTheEnd(adminTok string, id int64) listedJob {
	s.t.Helper()
	if res := s.retryJob(adminTok, id); res.Status != http.StatusOK {
		s.t.Fatalf("retry: %v, want 200", res)
	}
	return s.finished(adminTok, id)
}

// jobIn returns the id of a job of queue in state, once the listing shows
// one.
func (s *server) jobIn(adminTok, state, queue string) int64 {
	s.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		for _, j := range s.jobs(adminTok, state) {
			if j.Queue == queue {
				return j.ID
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no job of %s showed as %s", queue, state)
		}
		time.Sleep(10 * time.Millisecond) // polls the job's state, a wait with a deadline
	}
}

// listedJob is a job as GET /admin/jobs lists it.
type listedJob struct {
	ID        int64  `json:"id"`
	Queue     string `json:"queue"`
	State     string `json:"state"`
	LastError string `json:"last_error"`
}

// jobs lists the jobs in state ("" for any).
func (s *server) jobs(adminTok, state string) []listedJob {
	s.t.Helper()
	path := "/api/v1/admin/jobs"
	if state != "" {
		path += "?state=" + state
	}
	res := s.do(req{method: "GET", path: path, token: adminTok})
	if res.Status != http.StatusOK {
		s.t.Fatalf("list jobs: %v", res)
	}
	var list struct {
		Jobs []listedJob `json:"jobs"`
	}
	if err := json.Unmarshal(res.Body, &list); err != nil {
		s.t.Fatal(err)
	}
	return list.Jobs
}

// finished returns job id once it is completed, cancelled or discarded.
func (s *server) finished(adminTok string, id int64) listedJob {
	s.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		for _, j := range s.jobs(adminTok, "") {
			if j.ID == id && (j.State == "completed" || j.State == "cancelled" || j.State == "discarded") {
				return j
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("job %d never finished", id)
		}
		time.Sleep(10 * time.Millisecond) // polls the job's state, a wait with a deadline
	}
}

// TestDeletedAccountsLinkIsNotMailed: a verification mail that could not
// go out before its account was deleted (the mail server down, then
// River's later attempts or an administrator's retry) is not sent to the
// deleted account's address: its link died with the account. The job is
// cancelled with the reason.
func TestDeletedAccountsLinkIsNotMailed(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		_, adminTok := s.mailedAdmin()

		s.Mail.SetFail(errors.New("421 service not available, try again later"))
		bob := newAccount()
		s.register(bob)
		id := s.jobIn(adminTok, "retryable", "mail")
		bobTok := s.token(bob.Username, bob.Password)
		if res := s.do(req{method: "DELETE", path: "/api/v1/users/me", token: bobTok}); res.Status != http.StatusNoContent {
			t.Fatalf("delete: %v, want 204", res)
		}
		s.Mail.SetFail(nil)
		j := s.retriedToTheEnd(adminTok, id)
		if j.State != "cancelled" || !strings.Contains(j.LastError, "deleted") {
			t.Errorf("the deleted account's verification mail's job: %+v, want cancelled as deleted", j)
		}
		for _, m := range s.Mail.All() {
			if strings.EqualFold(m.To, bob.Email) {
				t.Errorf("a mail with a link went to the deleted account's address: %+v", m)
			}
		}
	})
}

// TestDeletedAccountsNoticeIsNotMailed: a notice without a link (the
// password-change notice) that could not go out before its account was
// deleted is not sent afterwards either: the service no longer keeps that
// address, and the account it tells about is gone. The job is cancelled
// with the reason, as for a mail with a link.
func TestDeletedAccountsNoticeIsNotMailed(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		_, adminTok := s.mailedAdmin()
		bob, _ := s.signUp()
		s.nextMail(usertest.MailVerify, bob.Email)

		s.Mail.SetFail(errors.New("421 service not available, try again later"))
		next := "a brand new passphrase 42"
		body := `{"current_password":"` + bob.Password + `","new_password":"` + next + `"}`
		if res := s.do(req{method: "PUT", path: "/api/v1/users/me/password", body: body, token: s.token(bob.Username, bob.Password)}); res.Status != http.StatusNoContent {
			t.Fatalf("change password: %v, want 204", res)
		}
		id := s.jobIn(adminTok, "retryable", "mail")
		if res := s.do(req{method: "DELETE", path: "/api/v1/users/me", token: s.token(bob.Username, next)}); res.Status != http.StatusNoContent {
			t.Fatalf("delete: %v, want 204", res)
		}
		sent := len(s.Mail.All())
		s.Mail.SetFail(nil)
		j := s.retriedToTheEnd(adminTok, id)
		if j.State != "cancelled" || !strings.Contains(j.LastError, "deleted") {
			t.Errorf("the deleted account's password-change notice's job: %+v, want cancelled as deleted", j)
		}
		for _, m := range s.Mail.All()[sent:] {
			if strings.EqualFold(m.To, bob.Email) {
				t.Errorf("a notice went to the deleted account's address after its deletion: %+v", m)
			}
		}
	})
}

// TestExpiredLinkIsNotMailed: a reset mail that could not go out before
// its link expired (the mail server down for longer than the link lives,
// then River's later attempts or an administrator's retry) is not sent: its
// link would only say "expired". The job is cancelled with the reason.
func TestExpiredLinkIsNotMailed(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin, adminTok := s.mailedAdmin()
		bob, _ := s.signUp()
		s.nextMail(usertest.MailVerify, bob.Email)

		s.Mail.SetFail(errors.New("421 service not available, try again later"))
		if res := s.do(req{method: "POST", path: "/api/v1/password-reset", body: jsonBody(map[string]string{"email": bob.Email})}); res.Status != http.StatusAccepted {
			t.Fatalf("password-reset: %v, want 202", res)
		}
		id := s.jobIn(adminTok, "retryable", "mail_security")
		s.Clock.Advance(time.Hour + time.Minute) // the link lives an hour
		s.Mail.SetFail(nil)
		adminTok = s.token(admin.Username, admin.Password) // the first one has expired too
		j := s.retriedToTheEnd(adminTok, id)
		if j.State != "cancelled" || !strings.Contains(j.LastError, "expired") {
			t.Errorf("the expired reset mail's job: %+v, want cancelled as expired", j)
		}
		for _, m := range s.Mail.All() {
			if m.Kind == usertest.MailReset {
				t.Errorf("a reset mail with an expired link went out: %+v", m)
			}
		}
	})
}
