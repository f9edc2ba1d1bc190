package httpapi_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// loginWith logs in from the address in h, sending deviceToken (if any)
// and a bearer token (if any) along.
func (s *server) loginWith(h http.Header, login, password, deviceToken, bearer string) response {
	s.t.Helper()
	form := url.Values{"username": {login}, "password": {password}}
	if deviceToken != "" {
		form.Set("device_token", deviceToken)
	}
	return s.do(req{method: "POST", path: "/api/v1/token", body: form.Encode(), contentType: formType, header: h, token: bearer})
}

// deviceOf logs a in and returns the answer's device token.
func (s *server) deviceOf(a account) string {
	s.t.Helper()
	res := s.loginAs(a.Username, a.Password)
	if res.Status != http.StatusOK {
		s.t.Fatalf("login %s: got %v, want 200", a.Username, res)
	}
	d, _ := res.object(s.t)["device_token"].(string)
	if d == "" {
		s.t.Fatalf("login %s: no device_token in %v", a.Username, res)
	}
	return d
}

// TestLockoutCannotLockTheOwnerOut reproduces finding 1 of issue 18: an
// attacker who knows only a username fails logins from many addresses,
// alternating username and email and retrying through the refusals, as
// fast as the limits let them. The owner's device that logged in before
// still gets in with the right password; a new device is locked, as the
// lockout means it to be, and the attacker's refusals did not extend it.
func TestLockoutCannotLockTheOwnerOut(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		const window = time.Minute
		s := newServer(t, kind, limitsOn("USERSVC_RATE_LIMIT_LOGIN", "off", "USERSVC_RATE_LIMIT_LOGIN_ACCOUNT", "5/1m",
			"USERSVC_LOGIN_LOCKOUT_THRESHOLD", "3", "USERSVC_LOGIN_LOCKOUT_COOLDOWN", "15m"))
		owner := newAccount()
		s.register(owner)
		stranger := newAccount()
		s.register(stranger)
		device := s.deviceOf(owner)
		strangersDevice := s.deviceOf(stranger)

		refused := 0
		for i := range 40 {
			login := owner.Username
			if i%2 == 1 {
				login = owner.Email
			}
			res := s.loginFrom(from("203.0.113."+strconv.Itoa(i+1)+":4000"), login, "guess "+strconv.Itoa(i))
			if res.Status == http.StatusTooManyRequests {
				refused++
			}
		}
		if refused < 35 {
			t.Fatalf("the attacker got %d of 40 attempts refused; the lockout did not hold", refused)
		}
		if res := s.loginWith(from("198.51.100.7:4000"), owner.Email, owner.Password, device, ""); res.Status != http.StatusOK {
			t.Errorf("the owner's known device: got %v, want 200", res)
		}
		for name, d := range map[string]string{"no device token": "", "another account's": strangersDevice,
			"a forged one": device[:len(device)-4] + "AAAA", "garbage": "d1.x.y"} {
			if res := s.loginWith(from("198.51.100.7:4000"), owner.Username, owner.Password, d, ""); res.Status != http.StatusTooManyRequests {
				t.Errorf("a new device (%s): got %v, want 429 (locked)", name, res)
			}
		}
		// Refusals do not count: one and a half windows after the flood
		// the account's rate is judged on the 5 attempts let through, not
		// on the 40 sent (the lockout is what still holds).
		s.Clock.Advance(window + window/2)
		res := s.loginWith(from("198.51.100.7:4000"), owner.Username, owner.Password, "", "")
		if body := wantProblem(t, res, http.StatusTooManyRequests, ""); body["code"] != "account_locked" {
			t.Errorf("a new device after the flood: %v, want the lockout (account_locked), not the rate limit", res)
		}
	})
}

// TestStolenSessionDoesNotSkipTheLockout reproduces finding 2 of issue 18:
// a thief holding the victim's access token attaches it to password
// guesses. The bearer token buys nothing: the guesses are limited and
// locked out like anyone's.
func TestStolenSessionDoesNotSkipTheLockout(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn("USERSVC_LOGIN_LOCKOUT_THRESHOLD", "3", "USERSVC_LOGIN_LOCKOUT_COOLDOWN", "15m"))
		victim, stolen := s.signedUp()
		var statuses []int
		for i := range 6 {
			res := s.loginWith(from("203.0.113.66:4000"), victim.Username, "guess "+strconv.Itoa(i), "", stolen)
			statuses = append(statuses, res.Status)
		}
		want := []int{401, 401, 401, 429, 429, 429}
		for i := range want {
			if statuses[i] != want[i] {
				t.Fatalf("guesses with the victim's bearer token: statuses %v, want %v", statuses, want)
			}
		}
		if res := s.loginWith(from("203.0.113.66:4000"), victim.Username, victim.Password, "", stolen); res.Status != http.StatusTooManyRequests {
			t.Errorf("the right password with the stolen bearer token: got %v, want 429", res)
		}
	})
}

// TestKnownDeviceIsLockedOnItsOwn: a device token only moves its holder
// into a bucket of its own. Guessing with a stolen device token locks that
// device, and neither the account's other devices nor new ones.
func TestKnownDeviceIsLockedOnItsOwn(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn("USERSVC_LOGIN_LOCKOUT_THRESHOLD", "3", "USERSVC_LOGIN_LOCKOUT_COOLDOWN", "15m"))
		a := newAccount()
		s.register(a)
		laptop, phone := s.deviceOf(a), s.deviceOf(a)
		for i := range 3 {
			wantProblem(t, s.loginWith(nil, a.Username, "guess "+strconv.Itoa(i), laptop, ""), http.StatusUnauthorized, "")
		}
		wantProblem(t, s.loginWith(nil, a.Username, a.Password, laptop, ""), http.StatusTooManyRequests, "")
		res := s.loginWith(nil, a.Username, a.Password, phone, "")
		if res.Status != http.StatusOK {
			t.Fatalf("the account's other device: got %v, want 200", res)
		}
		if got := res.object(t)["device_token"]; got != phone {
			t.Errorf("a known device's login answers device_token %v, want its own token back", got)
		}
		if res := s.loginAs(a.Username, a.Password); res.Status != http.StatusOK {
			t.Errorf("a new device: got %v, want 200", res)
		}
	})
}

// TestRepeatedWrongAttemptCountsOnce: clients that send each failed login
// twice do not lock their user out twice as fast. The same wrong password
// within a minute is one failure; a different one counts.
func TestRepeatedWrongAttemptCountsOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn("USERSVC_LOGIN_LOCKOUT_THRESHOLD", "2"))
		a := newAccount()
		s.register(a)
		for range 5 {
			wantProblem(t, s.loginAs(a.Username, "same typo"), http.StatusUnauthorized, "incorrect username or password")
		}
		if res := s.loginAs(a.Email, a.Password); res.Status != http.StatusOK {
			t.Fatalf("after one wrong password sent five times: got %v, want 200", res)
		}
		wantProblem(t, s.loginAs(a.Username, "typo one"), http.StatusUnauthorized, "")
		s.Clock.Advance(time.Minute + time.Second)
		wantProblem(t, s.loginAs(a.Username, "typo one"), http.StatusUnauthorized, "") // a minute later it counts again
		wantProblem(t, s.loginAs(a.Username, a.Password), http.StatusTooManyRequests, "")
	})
}

// TestReauthenticationGuessesLockOnlyThatSession: a thief of a session
// guessing the password at /reauthenticate is locked out there, and the
// owner's logins are not.
func TestReauthenticationGuessesLockOnlyThatSession(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn("USERSVC_LOGIN_LOCKOUT_THRESHOLD", "3", "USERSVC_LOGIN_LOCKOUT_COOLDOWN", "15m"))
		victim, stolen := s.signedUp()
		reauth := func(password string) response {
			return s.do(req{method: "POST", path: "/api/v1/reauthenticate", body: `{"password":"` + password + `"}`, token: stolen})
		}
		for i := range 3 {
			wantProblem(t, reauth("guess "+strconv.Itoa(i)), http.StatusBadRequest, "current password is incorrect")
		}
		wantProblem(t, reauth(victim.Password), http.StatusTooManyRequests, "")
		if res := s.loginAs(victim.Username, victim.Password); res.Status != http.StatusOK {
			t.Errorf("the owner's login after the thief's guesses: got %v, want 200", res)
		}
	})
}

// TestPasswordChangeGuessesLockOnlyThatSession: a thief of a session
// guessing the current password at PUT /users/me/password is locked out
// as a guesser at /reauthenticate is (the wrong current password once
// counted nowhere but the per-session request limit, 30 a minute), and
// the owner's logins and other sessions are not.
func TestPasswordChangeGuessesLockOnlyThatSession(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn("USERSVC_LOGIN_LOCKOUT_THRESHOLD", "3", "USERSVC_LOGIN_LOCKOUT_COOLDOWN", "15m",
			"USERSVC_RATE_LIMIT_PASSWORD", "off", "USERSVC_RATE_LIMIT_WRITE_ACCOUNT", "off"))
		victim, stolen := s.signedUp()
		change := func(token, current string) response {
			body := `{"current_password":"` + current + `","new_password":"a brand new passphrase 42"}`
			return s.do(req{method: "PUT", path: "/api/v1/users/me/password", body: body, token: token})
		}
		for i := range 3 {
			wantProblem(t, change(stolen, "guess "+strconv.Itoa(i)), http.StatusBadRequest, "current password is incorrect")
		}
		wantProblem(t, change(stolen, victim.Password), http.StatusTooManyRequests, "")
		if res := s.loginAs(victim.Username, victim.Password); res.Status != http.StatusOK {
			t.Fatalf("the owner's login after the thief's guesses: got %v, want 200", res)
		}
		owner := s.token(victim.Username, victim.Password)
		if res := change(owner, victim.Password); res.Status != http.StatusNoContent {
			t.Errorf("the owner's own session changes the password: got %v, want 204", res)
		}
	})
}
