package httpapi_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Finding 3 of issue 18: the routes that write, mail or export had no
// limit. From one client, 50 PUT /users/me probes told in 0.26 s which
// addresses had accounts, wrote 381 permanent audit rows a second, and
// had the service mail any address without bound.

// changeEmail asks, with the password, to move the account of token to
// email, from h.
func (s *server) changeEmail(token, password, email string, h http.Header) response {
	s.t.Helper()
	body := fmt.Sprintf(`{"email":%q,"current_password":%q}`, email, password)
	return s.do(req{method: "PUT", path: "/api/v1/users/me", token: token, body: body, header: h})
}

// wantOnlyLimit checks a 429 of the limit named rule: the rate-limit
// headers describe that limit alone (each sent once), and Retry-After
// says when it lets a request through.
func wantOnlyLimit(t *testing.T, res response, rule string, limit int) int {
	t.Helper()
	want429(t, res, fmt.Sprintf("too many requests: the limit is %d per ", limit))
	for _, name := range []string{"Retry-After", "RateLimit", "RateLimit-Policy", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if n := len(res.Header.Values(name)); n != 1 {
			t.Errorf("%s sent %d times (%q), want once", name, n, res.Header.Values(name))
		}
	}
	if got := res.Header.Get("RateLimit-Policy"); !strings.HasPrefix(got, strconv.Quote(rule)+";q="+strconv.Itoa(limit)+";") {
		t.Errorf("RateLimit-Policy = %q, want the limit %q of %d", got, rule, limit)
	}
	if got := res.Header.Get("X-RateLimit-Limit"); got != strconv.Itoa(limit) {
		t.Errorf("X-RateLimit-Limit = %q, want %d", got, limit)
	}
	ra, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	return ra
}

// TestEmailProbesAreLimited: with the default limits, 50 rapid email
// changes from one account, each of which would tell whether an address
// has an account, get 5 answers; the rest are refused (429) and write
// nothing. Once Retry-After has passed, the account may change its email
// again.
func TestEmailProbesAreLimited(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn())
		victim, _ := s.signUp()
		a, tok := s.signedUp()
		answered, refused := 0, 0
		var first response
		for i := range 50 {
			probe := victim.Email
			if i%2 == 1 {
				probe = fmt.Sprintf("probe%d-%s", i, a.Email)
			}
			res := s.changeEmail(tok, a.Password, probe, nil)
			switch res.Status {
			case http.StatusTooManyRequests:
				if refused++; refused == 1 {
					first = res
				}
			case http.StatusOK, http.StatusBadRequest:
				answered++
			default:
				t.Fatalf("probe %d: got %v", i+1, res)
			}
		}
		if answered != 5 || refused != 45 {
			t.Errorf("50 probes: %d answered, %d refused; want 5 and 45 (USERSVC_RATE_LIMIT_EMAIL_CHANGE=5/1h)", answered, refused)
		}
		retry := wantOnlyLimit(t, first, "email-change", 5)
		if retry < 1 || retry > 2*3600 {
			t.Errorf("Retry-After = %d s, want at most two windows of an hour", retry)
		}
		id := uuid.MustParse(s.do(req{method: "GET", path: "/api/v1/users/me", token: tok}).object(t)["id"].(string))
		updates, err := s.Stores.Audit.Events(t.Context(), user.AuditFilter{SubjectID: id, Kinds: []user.AuditKind{user.AuditProfileUpdated}})
		if err != nil {
			t.Fatal(err)
		}
		if len(updates) > 5 {
			t.Errorf("%d profile updates recorded, want at most the 5 let through", len(updates))
		}

		// Retry-After is whole seconds, rounded up.
		s.Clock.Advance(time.Duration(retry-2) * time.Second)
		tok = s.token(a.Username, a.Password) // the access token has expired meanwhile
		wantProblem(t, s.changeEmail(tok, a.Password, "early-"+a.Email, nil), http.StatusTooManyRequests, "")
		s.Clock.Advance(2 * time.Second)
		if res := s.changeEmail(tok, a.Password, "later-"+a.Email, nil); res.Status != http.StatusOK {
			t.Errorf("after Retry-After: got %v, want 200", res)
		}
	})
}

// TestProfileWritesAreLimited: rapid PUT /users/me without an email
// change (381 audit rows a second in the finding) is refused after
// USERSVC_RATE_LIMIT_WRITE_ACCOUNT, which counts the account from any
// address, and writes nothing more.
func TestProfileWritesAreLimited(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn())
		_, tok := s.signedUp()
		put := func(i int, h http.Header) response {
			return s.do(req{method: "PUT", path: "/api/v1/users/me", token: tok, body: fmt.Sprintf(`{"full_name":"Name %d"}`, i), header: h})
		}
		for i := range 30 {
			// From ever new addresses: the per-address limit never applies.
			if res := put(i, from(fmt.Sprintf("203.0.113.%d:4000", i+1))); res.Status != http.StatusOK {
				t.Fatalf("write %d: got %v, want 200", i+1, res)
			}
		}
		res := put(31, from("198.51.100.77:4000"))
		wantOnlyLimit(t, res, "write-account", 30)
		me := s.do(req{method: "GET", path: "/api/v1/users/me", token: tok}).object(t)
		if me["full_name"] != "Name 29" {
			t.Errorf("full_name = %v after a refused write, want Name 29", me["full_name"])
		}
		id := uuid.MustParse(me["id"].(string))
		updates, err := s.Stores.Audit.Events(t.Context(), user.AuditFilter{SubjectID: id, Kinds: []user.AuditKind{user.AuditProfileUpdated}})
		if err != nil {
			t.Fatal(err)
		}
		if len(updates) != 30 {
			t.Errorf("%d profile updates recorded, want the 30 let through", len(updates))
		}
		if !strings.Contains(s.metrics(), `usersvc_rate_limited_total{limit="write-account"} 1`) {
			t.Error("/metrics does not count the refused write")
		}
	})
}

// TestWriteLimitPerAddressAcrossAccounts: one client address counts the
// writes of every account it uses (and the anonymous link routes) under
// USERSVC_RATE_LIMIT_WRITE; another address has its own count.
func TestWriteLimitPerAddressAcrossAccounts(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn("USERSVC_RATE_LIMIT_WRITE", "5/1m"))
		attacker, elsewhere := from("203.0.113.50:4000"), from("198.51.100.50:4000")
		_, one := s.signedUp()
		_, two := s.signedUp()
		for i, tok := range []string{one, two, one, two} {
			res := s.do(req{method: "PUT", path: "/api/v1/users/me", token: tok, body: `{"full_name":"x"}`, header: attacker})
			if res.Status != http.StatusOK {
				t.Fatalf("write %d: got %v, want 200", i+1, res)
			}
		}
		// An email link with a made-up token is a write too.
		wantProblem(t, s.do(req{method: "POST", path: "/api/v1/verify-email", body: `{"token":"made-up"}`, header: attacker}), http.StatusBadRequest, "")
		res := s.do(req{method: "DELETE", path: "/api/v1/users/me/sessions/" + uuid.NewString(), token: two, header: attacker})
		wantOnlyLimit(t, res, "write", 5)
		wantOnlyLimit(t, s.do(req{method: "POST", path: "/api/v1/password-reset/confirm",
			body: `{"token":"made-up","new_password":"a new passphrase"}`, header: attacker}), "write", 5)
		if res := s.do(req{method: "PUT", path: "/api/v1/users/me", token: one, body: `{"full_name":"y"}`, header: elsewhere}); res.Status != http.StatusOK {
			t.Errorf("the same account from another address: got %v, want 200", res)
		}
	})
}

// TestVerificationMailToOneAddressIsBounded: email changes mail a
// verification link to the new address. Whichever accounts ask, one
// address gets at most USERSVC_RATE_LIMIT_MAIL_RECIPIENT of them: a second
// account does not get around the bound, and each account's own limit
// and the client address's hold too.
func TestVerificationMailToOneAddressIsBounded(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn("USERSVC_RATE_LIMIT_EMAIL_CHANGE", "100/1h", "USERSVC_RATE_LIMIT_MAIL", "100/1h"))
		const target = "someone.else@example.net"
		a, tokA := s.signedUp()
		b, tokB := s.signedUp()
		// a moves to the target and away again, over and over.
		for i := range 3 {
			if res := s.changeEmail(tokA, a.Password, target, nil); res.Status != http.StatusOK {
				t.Fatalf("change %d to the target: got %v, want 200", i+1, res)
			}
			if res := s.changeEmail(tokA, a.Password, fmt.Sprintf("away%d-%s", i, a.Email), nil); res.Status != http.StatusOK {
				t.Fatalf("change %d away: got %v, want 200", i+1, res)
			}
		}
		wantOnlyLimit(t, s.changeEmail(tokA, a.Password, target, nil), "mail-recipient", 3)
		// b, from another address, is refused the same.
		wantOnlyLimit(t, s.changeEmail(tokB, b.Password, strings.ToUpper(target), from("198.51.100.60:4000")), "mail-recipient", 3)
		for range 3 { // the mail goes through the queue: wait for it
			s.nextMail(string(user.MailVerifyEmail), target)
		}
		if n := mailsTo(s, user.MailVerifyEmail, target); n != 3 {
			t.Errorf("%d verification mails to %s, want 3", n, target)
		}
		// Other addresses are still served.
		if res := s.changeEmail(tokB, b.Password, "fresh-"+b.Email, nil); res.Status != http.StatusOK {
			t.Errorf("b to an address of its own: got %v, want 200", res)
		}
	})
}

// TestEmailChangesLimitedPerAddress: the email changes of every account
// one client address uses count against USERSVC_RATE_LIMIT_MAIL, as
// every route that mails.
func TestEmailChangesLimitedPerAddress(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn("USERSVC_RATE_LIMIT_MAIL", "2/1h"))
		h := from("203.0.113.70:4000")
		a, tokA := s.signedUp()
		b, tokB := s.signedUp()
		for i, c := range []struct {
			acct account
			tok  string
		}{{a, tokA}, {b, tokB}} {
			if res := s.changeEmail(c.tok, c.acct.Password, "new-"+c.acct.Email, h); res.Status != http.StatusOK {
				t.Fatalf("change %d: got %v, want 200", i+1, res)
			}
		}
		wantOnlyLimit(t, s.changeEmail(tokA, a.Password, "newer-"+a.Email, h), "mail", 2)
		if res := s.changeEmail(tokA, a.Password, "newer-"+a.Email, from("198.51.100.70:4000")); res.Status != http.StatusOK {
			t.Errorf("from another address: got %v, want 200", res)
		}
	})
}

// TestIntruderCannotUseUpTheOwnersLimits: a stolen session that spends
// the account's write limit, and hammers it, leaves the owner's session
// its own count for changing the password and so ending every other
// session.
func TestIntruderCannotUseUpTheOwnersLimits(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn("USERSVC_RATE_LIMIT_WRITE_ACCOUNT", "3/1m", "USERSVC_RATE_LIMIT_WRITE", "off"))
		a, owner := s.signedUp()
		stolen := s.token(a.Username, a.Password)
		for range 3 {
			s.do(req{method: "PUT", path: "/api/v1/users/me", token: stolen, body: `{"full_name":"pwned"}`})
		}
		for range 20 {
			wantProblem(t, s.do(req{method: "PUT", path: "/api/v1/users/me", token: stolen, body: `{"full_name":"pwned"}`}), http.StatusTooManyRequests, "")
		}
		wantProblem(t, s.do(req{method: "PUT", path: "/api/v1/users/me", token: owner, body: `{"full_name":"mine"}`}), http.StatusTooManyRequests, "")
		// The owner ends every other session, the intruder's included.
		if res := s.do(req{method: "PUT", path: "/api/v1/users/me/password", token: owner,
			body: fmt.Sprintf(`{"current_password":%q,"new_password":"a fresh passphrase 2"}`, a.Password)}); res.Status != http.StatusNoContent {
			t.Fatalf("the owner's password change: got %v, want 204", res)
		}
		wantProblem(t, s.do(req{method: "GET", path: "/api/v1/users/me", token: stolen}), http.StatusUnauthorized, "")
		s.Clock.Advance(2 * time.Minute)
		owner = s.token(a.Username, "a fresh passphrase 2")
		if res := s.do(req{method: "PUT", path: "/api/v1/users/me", token: owner, body: `{"full_name":"mine"}`}); res.Status != http.StatusOK {
			t.Errorf("the owner's write once the window passed: got %v, want 200", res)
		}
	})
}

// TestExportIsLimited: the export counts per account
// (USERSVC_RATE_LIMIT_EXPORT, default 6/1h) and per client address.
func TestExportIsLimited(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn())
		_, tok := s.signedUp()
		export := func(tok string, h http.Header) response {
			return s.do(req{method: "GET", path: "/api/v1/users/me/export", token: tok, header: h})
		}
		for i := range 6 {
			if res := export(tok, from(fmt.Sprintf("203.0.113.%d:4000", i+1))); res.Status != http.StatusOK {
				t.Fatalf("export %d: got %v, want 200", i+1, res)
			}
		}
		wantOnlyLimit(t, export(tok, from("198.51.100.80:4000")), "export", 6)
		// One address exporting many accounts.
		h := from("198.51.100.81:4000")
		for i := range 6 {
			_, other := s.signedUp()
			if res := export(other, h); res.Status != http.StatusOK {
				t.Fatalf("export of account %d from one address: got %v, want 200", i+1, res)
			}
		}
		_, seventh := s.signedUp()
		wantOnlyLimit(t, export(seventh, h), "export", 6)
	})
}

// mailsTo counts the mails of kind sent to address (any letter case).
func mailsTo(s *server, kind user.MailKind, address string) int {
	n := 0
	for _, m := range s.Mail.All() {
		if m.Kind == string(kind) && strings.EqualFold(m.To, address) {
			n++
		}
	}
	return n
}
