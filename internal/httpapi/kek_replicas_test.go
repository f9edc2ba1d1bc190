package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// kekKeys is a replica's key-encryption keys: the one it seals with, and
// the one that only opens (the old key as previous, or the new key as
// next; "": none).
type kekKeys struct{ current, previous, next string }

// replica starts a replica of d with keys, as a rolling deploy does:
// beside the ones already running on the same database.
func (d *kekDeployment) replica(k kekKeys) *server {
	d.t.Helper()
	env := append(append([]string{}, d.env...), "USERSVC_KEY_ENCRYPTION_KEY", k.current,
		"USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS", k.previous, "USERSVC_KEY_ENCRYPTION_KEY_NEXT", k.next)
	return newServer(d.t, d.kind, apptest.Env(env...))
}

// replaced is s taken out of the roll: it works no more queued jobs (it
// gets no more requests either), so that a job queued by one of the
// replicas a test watches is worked by the other.
func replaced(t *testing.T, s *server) {
	t.Helper()
	if err := s.App.Jobs().Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// rollFixture is what the flows between two replicas share: an
// administrator, a webhook endpoint with its receiver, and accounts
// (signed up and mailed before the roll) to set up TOTP on.
type rollFixture struct {
	admin    account
	hookID   string
	rcv      *hookReceiver
	accounts []account
}

func newRollFixture(t *testing.T, s *server) *rollFixture {
	t.Helper()
	f := &rollFixture{rcv: newHookReceiver(t)}
	a, id := s.signUp()
	s.setRole(id, user.RoleAdmin)
	f.admin = a
	f.hookID = s.createWebhook(s.token(a.Username, a.Password), `{"url":"`+f.rcv.URL+`/hook","types":["user.deleted"]}`).ID
	s.nextMail(usertest.MailVerify, a.Email)
	for range 8 {
		a, _ := s.signUp()
		s.nextMail(usertest.MailVerify, a.Email) // no mail of theirs is queued during the roll
		f.accounts = append(f.accounts, a)
	}
	return f
}

// rollFlow is one thing a replica x seals that a replica y must open; it
// says what went wrong, nil when nothing did.
type rollFlow struct {
	name string
	run  func(f *rollFixture, t *testing.T, x, y *server) error
}

var rollFlows = []rollFlow{
	{"TOTP set up on one, login on the other", (*rollFixture).totp},
	{"webhook secret rotated on one, delivery signed by the other", (*rollFixture).webhookSecret},
	{"signing key rotated on one, its tokens verified and signed on the other", (*rollFixture).signingKey},
	{"mail queued by one, sent by the other", (*rollFixture).queuedMail},
}

// across runs every flow from x to y and returns the names of those that
// broke, logging what was seen.
func (f *rollFixture) across(t *testing.T, x, y *server) []string {
	t.Helper()
	var broken []string
	inStep(x, y)
	for _, flow := range rollFlows {
		tick(x, y)
		if err := flow.run(f, t, x, y); err != nil {
			t.Logf("%s: %v", flow.name, err)
			broken = append(broken, flow.name)
		}
	}
	return broken
}

// inStep sets the replicas' clocks to the latest of them: each started
// with the time it started at, and the test has moved the earlier ones on.
func inStep(servers ...*server) {
	var latest time.Time
	for _, s := range servers {
		if now := s.Clock.Now(); now.After(latest) {
			latest = now
		}
	}
	for _, s := range servers {
		s.Clock.Advance(latest.Sub(s.Clock.Now()))
	}
}

// tick moves the replicas' clocks on together, past the TOTP time step
// and the ring's minimum reload interval.
func tick(servers ...*server) {
	for _, s := range servers {
		s.Clock.Advance(time.Minute)
	}
}

func (f *rollFixture) totp(_ *testing.T, x, y *server) error {
	a := f.accounts[0]
	f.accounts = f.accounts[1:]
	secret, _ := x.enrolTOTP(x.token(a.Username, a.Password))
	tick(x, y)
	if res := y.otpLogin(a, secret, 0); res.Status != http.StatusOK {
		return fmt.Errorf("TOTP login: %d %s", res.Status, res.Body)
	}
	return nil
}

func (f *rollFixture) webhookSecret(t *testing.T, x, y *server) error {
	res := x.do(req{method: "POST", path: "/api/v1/admin/webhooks/" + f.hookID + "/rotate-secret", token: x.token(f.admin.Username, f.admin.Password)})
	secret := decode[webhookBody](t, res, http.StatusOK).Secret
	n := f.rcv.count()
	res = y.do(req{method: "POST", path: "/api/v1/admin/webhooks/" + f.hookID + "/test", token: y.token(f.admin.Username, f.admin.Password)})
	if res.Status != http.StatusOK {
		return fmt.Errorf("test delivery: %d %s", res.Status, res.Body)
	}
	if d := decode[deliveryBody](t, res, http.StatusOK); d.State != "succeeded" {
		return fmt.Errorf("test delivery: %+v", d)
	}
	return f.rcv.signedWith(n, secret)
}

func (f *rollFixture) signingKey(t *testing.T, x, y *server) error {
	info, err := x.App.Ring().RotateNow(t.Context()) // `usersvc keys rotate --now` or the schedule, on x
	if err != nil {
		t.Fatal(err)
	}
	inStep(x, y) // the key signs from x's now: y's clock must have reached it
	tok := x.token(f.admin.Username, f.admin.Password)
	if kid := claimsHeaderKid(t, tok); kid != info.ID {
		t.Fatalf("the rotating replica signs with %s, want the new key %s", kid, info.ID)
	}
	if res := y.do(req{method: "GET", path: "/api/v1/users/me", token: tok}); res.Status != http.StatusOK {
		return fmt.Errorf("a token of the new key: %d %s", res.Status, res.Body)
	}
	// Its periodic reload (every 30 s), now: the new key's private half
	// must open for it to sign with it.
	if err := y.App.Ring().Reload(t.Context()); err != nil {
		return fmt.Errorf("reload the signing keys: %w", err)
	}
	if kid := claimsHeaderKid(t, y.token(f.admin.Username, f.admin.Password)); kid != info.ID {
		return fmt.Errorf("signs with %s, want the new key %s (the other replica's clock %s, its keys %s)",
			kid, info.ID, y.Clock.Now().Format(time.RFC3339Nano), ringKeys(y))
	}
	return nil
}

// ringKeys describes s's signing keys as its ring has them, for a failure.
func ringKeys(s *server) string {
	var out []string
	for _, i := range s.App.Ring().List() {
		out = append(out, fmt.Sprintf("%s %s from %s", i.ID, i.State, i.CreatedAt.Format(time.RFC3339Nano)))
	}
	return strings.Join(out, "; ")
}

func (f *rollFixture) queuedMail(t *testing.T, x, y *server) error {
	replaced(t, x) // for this flow only: the job goes to y
	defer func() {
		if err := x.App.Jobs().Start(context.WithoutCancel(t.Context())); err != nil {
			t.Fatal(err)
		}
	}()
	before := unopened(t, y)
	a, _ := x.signUp()
	m, err := delivered(t, y, usertest.MailVerify, a.Email, before)
	if err != nil {
		return err
	}
	if res := x.do(req{method: "POST", path: "/api/v1/verify-email", body: jsonBody(map[string]string{"token": m.Token})}); res.Status != http.StatusOK {
		return fmt.Errorf("the mailed link: %d %s", res.Status, res.Body)
	}
	return nil
}

// unopened is the ids of the mail jobs s's queue cancelled because their
// token did not open.
func unopened(t *testing.T, s *server) []int64 {
	t.Helper()
	jobs, err := s.App.Jobs().Jobs(t.Context(), "cancelled", 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, j := range jobs {
		if strings.Contains(j.LastError, "open the mail's token") {
			ids = append(ids, j.ID)
		}
	}
	return ids
}

// delivered waits (bounded) for s to send the mail of kind to to, or to
// give a job up because its token does not open (one not in before).
func delivered(t *testing.T, s *server, kind, to string, before []int64) (usertest.Mail, error) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond) // a wait for the mail, with a deadline
		m, err := s.Mail.Take(ctx, kind, to)
		cancel()
		if err == nil {
			return m, nil
		}
		for _, id := range unopened(t, s) {
			if !slices.Contains(before, id) {
				return usertest.Mail{}, fmt.Errorf("job %d cancelled: its token does not open", id)
			}
		}
	}
	return usertest.Mail{}, fmt.Errorf("no %s mail to %s", kind, to)
}

func (r *hookReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// signedWith says whether message i is signed with secret.
func (r *hookReceiver) signedWith(i int, secret string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i >= len(r.got) {
		return fmt.Errorf("receiver got %d messages, want at least %d", len(r.got), i+1)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return err
	}
	return wh.VerifyIgnoringTimestamp(r.bod[i], r.got[i].Header)
}

// TestOneRollKEKChangeBreaksOldReplicas is why the key-encryption key
// changes in two rolls: deployed in one (the new key, the old one as
// previous), a replica on the new configuration seals under a key the
// replicas not yet rolled cannot open. Its TOTP secrets, webhook
// secrets, signing keys and queued mail fail on them until they too are
// rolled.
func TestOneRollKEKChangeBreaksOldReplicas(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		d := newKEKDeployment(t, kind)
		kek1, kek2 := newKEK(t), newKEK(t)
		old := d.replica(kekKeys{current: kek1})
		f := newRollFixture(t, old)
		rolled := d.replica(kekKeys{current: kek2, previous: kek1})

		if broken := f.across(t, old, rolled); broken != nil {
			t.Errorf("old to rolled: broke %q, want nothing", broken)
		}
		var names []string
		for _, flow := range rollFlows {
			names = append(names, flow.name)
		}
		if broken := f.across(t, rolled, old); !slices.Equal(broken, names) {
			t.Errorf("rolled to old: broke %q, want every flow (%q)", broken, names)
		}
	})
}

// TestKEKRotationInTwoRolls is the README's procedure, replica beside
// replica on one database: first every replica learns the new key as
// USERSVC_KEY_ENCRYPTION_KEY_NEXT, still sealing with the old; then
// every replica seals with the new, the old as previous; then reseal;
// then drop the old key. At every step each replica opens what the other
// sealed: nobody notices.
func TestKEKRotationInTwoRolls(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		d := newKEKDeployment(t, kind)
		kek1, kek2 := newKEK(t), newKEK(t)
		steps := []kekKeys{
			{current: kek1},                 // before
			{current: kek1, next: kek2},     // the first roll
			{current: kek2, previous: kek1}, // the second roll
			{current: kek2},                 // the old key dropped
		}
		before := d.replica(steps[0])
		f := newRollFixture(t, before)
		for i, keys := range steps[1:] {
			if i == 2 { // every replica seals with the new key: reseal, then drop the old one
				if _, err := d.reseal(kek2, kek1); err != nil {
					t.Fatalf("reseal: %v", err)
				}
			}
			after := d.replica(keys)
			for _, pair := range [][2]*server{{before, after}, {after, before}} {
				if broken := f.across(t, pair[0], pair[1]); broken != nil {
					t.Errorf("step %d beside step %d: broke %q, want nothing", i, i+1, broken)
				}
			}
			replaced(t, before)
			before = after
		}
	})
}
