package user_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// breachedList stands in for the embedded list.
func breachedList(pw string) bool {
	return map[string]bool{"password1234": true, "iloveyou1": true}[strings.ToLower(pw)]
}

func newPolicyFixture(t *testing.T, p user.PasswordPolicy) fixture {
	t.Helper()
	f := newFixture(t)
	f.svc = user.NewService(f.deps(), user.Policy{Password: p})
	return f
}

func TestPasswordPolicyOnRegister(t *testing.T) {
	policy := user.PasswordPolicy{MinChars: 12, Breached: breachedList}
	for _, tt := range []struct {
		name, email, username, password, msg string
	}{
		{"shorter than the configured minimum", "ada@example.com", "ada", "eleven char", "must be at least 12 characters"},
		{"breached", "ada@example.com", "ada", "Password1234", "is too common: it appears in lists of breached passwords"},
		{"equal to the username", "ada@example.com", "lovelace.ada", "LOVELACE.ADA", "must not be the same as your email or username"},
		{"equal to the email", "ada.lovelace@example.com", "ada", "Ada.Lovelace@Example.com", "must not be the same as your email or username"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newPolicyFixture(t, policy)
			_, err := f.svc.Register(t.Context(), user.Registration{Email: tt.email, Username: tt.username, Password: tt.password})
			var v *user.ValidationError
			if !errors.As(err, &v) || v.Field != "password" || !strings.Contains(v.Message, tt.msg) {
				t.Fatalf("Register() error = %v, want password: %q", err, tt.msg)
			}
			if f.mem.Len() != 0 {
				t.Errorf("%d users stored, want none", f.mem.Len())
			}
		})
	}
	f := newPolicyFixture(t, policy)
	f.register(t, user.Registration{Email: "ada@example.com", Username: "ada", Password: "twelve chars"})
}

func TestPasswordPolicyOnChangePassword(t *testing.T) {
	f := newPolicyFixture(t, user.PasswordPolicy{Breached: breachedList})
	u := f.register(t, ada)
	for _, tt := range []struct{ next, msg string }{
		{"iloveyou1", "is too common"},
		{"ADA@example.com", "must not be the same as your email or username"},
		{"seven77", "must be at least 8 characters"},
	} {
		err := f.svc.ChangePassword(t.Context(), signedIn(u.ID, uuid.Nil), ada.Password, tt.next)
		var v *user.ValidationError
		if !errors.As(err, &v) || v.Field != "new_password" || !strings.Contains(v.Message, tt.msg) {
			t.Errorf("ChangePassword(%q) error = %v, want new_password: %q", tt.next, err, tt.msg)
		}
	}
	if err := f.svc.ChangePassword(t.Context(), signedIn(u.ID, uuid.Nil), ada.Password, "a fine new passphrase"); err != nil {
		t.Errorf("ChangePassword(good) error = %v", err)
	}
}

// gate is a HashGate that counts acquisitions and can refuse them, or
// report itself saturated.
type gate struct {
	mu        sync.Mutex
	acquired  int
	held      int
	refuse    bool
	saturated bool
}

func (g *gate) Saturated() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.saturated
}

func (g *gate) Acquire(context.Context) (func(), error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refuse {
		return nil, user.ErrBusy
	}
	g.acquired++
	g.held++
	return func() { g.mu.Lock(); g.held--; g.mu.Unlock() }, nil
}

func TestHashingGoesThroughTheGate(t *testing.T) {
	f := newFixture(t)
	g := &gate{}
	d := f.deps()
	d.Gate = g
	f.svc = user.NewService(d, user.Policy{})
	u := f.register(t, ada)
	inactive := f.register(t, user.Registration{Email: "off@example.com", Username: "off", Password: "long enough"})
	f.mem.SetActive(inactive.ID, false)
	for _, tt := range []struct{ name, login, password string }{
		{"right password", "ada", ada.Password},
		{"wrong password", "ada", "wrong password"},
		{"unknown user", "nobody", ada.Password},
		{"inactive user", "off", "long enough"},
	} {
		before, verifies := g.acquired, f.hasher.verifies
		_, _ = f.svc.Login(t.Context(), tt.login, tt.password, "")
		if g.acquired-before != 1 || f.hasher.verifies-verifies != 1 {
			t.Errorf("%s: %d slots, %d verifications; want 1 and 1", tt.name, g.acquired-before, f.hasher.verifies-verifies)
		}
	}
	if err := f.svc.ChangePassword(t.Context(), signedIn(u.ID, uuid.Nil), ada.Password, "another long one"); err != nil {
		t.Fatal(err)
	}
	if g.held != 0 {
		t.Errorf("%d slots still held, want 0", g.held)
	}

	g.refuse = true
	if _, err := f.svc.Login(t.Context(), "ada", "another long one", ""); !errors.Is(err, user.ErrBusy) {
		t.Errorf("Login with no slot: error = %v, want ErrBusy", err)
	}
	if _, err := f.svc.Login(t.Context(), "nobody", "x", ""); !errors.Is(err, user.ErrBusy) {
		t.Errorf("Login of an unknown user with no slot: error = %v, want ErrBusy (same as a known one)", err)
	}
	if _, err := f.svc.Register(t.Context(), user.Registration{Email: "b@example.com", Username: "bob", Password: "long enough"}); !errors.Is(err, user.ErrBusy) {
		t.Errorf("Register with no slot: error = %v, want ErrBusy", err)
	}
	if err := f.svc.ChangePassword(t.Context(), signedIn(u.ID, uuid.Nil), "another long one", "and yet another"); !errors.Is(err, user.ErrBusy) {
		t.Errorf("ChangePassword with no slot: error = %v, want ErrBusy", err)
	}
}

// TestSaturatedGateRefusesLoginFirst: when the gate would turn a caller
// away at once, a login is refused before it looks the account up, asks
// the guard or hashes: a flood costs no database work.
func TestSaturatedGateRefusesLoginFirst(t *testing.T) {
	f := newFixture(t)
	f.register(t, ada)
	g, gd := &gate{saturated: true}, &guard{}
	d := f.deps()
	d.Gate, d.Guard = g, gd
	svc := user.NewService(d, user.Policy{})
	f.mem.SetFail(errDown) // a lookup would answer errDown
	verifies := f.hasher.verifies
	if _, err := svc.Login(t.Context(), "ada", ada.Password, ""); !errors.Is(err, user.ErrBusy) {
		t.Errorf("Login with the gate saturated: error = %v, want ErrBusy before any lookup", err)
	}
	if g.acquired != 0 || len(gd.admitted) != 0 || f.hasher.verifies != verifies {
		t.Errorf("%d slots, %d guard checks, %d verifications; want none", g.acquired, len(gd.admitted), f.hasher.verifies-verifies)
	}
	f.mem.SetFail(nil)
	g.saturated = false
	if _, err := svc.Login(t.Context(), "ada", ada.Password, ""); err != nil {
		t.Errorf("Login once the gate has room: %v", err)
	}
}

func (g *gate) holding() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held > 0
}

// slotWatch notes each store write made while a hashing slot is held; it
// wraps the store ports (watch) that a login, a password change and a
// registration write through.
type slotWatch struct {
	gate   *gate
	mu     sync.Mutex
	inSlot []string
}

func (w *slotWatch) note(op string) {
	if w.gate.holding() {
		w.mu.Lock()
		w.inSlot = append(w.inSlot, op)
		w.mu.Unlock()
	}
}

// watch returns s with its writes noted by w.
func (w *slotWatch) watch(s user.Stores) user.Stores {
	s.Users = watchedUsers{Users: s.Users, w: w}
	s.Sessions = watchedSessions{Sessions: s.Sessions, w: w}
	s.Audit = watchedAudit{AuditLog: s.Audit, w: w}
	return s
}

type watchedUsers struct {
	user.Users
	w *slotWatch
}

func (u watchedUsers) Create(ctx context.Context, x user.User) (user.User, error) {
	u.w.note("Users.Create")
	return u.Users.Create(ctx, x)
}

func (u watchedUsers) SetPassword(ctx context.Context, id uuid.UUID, hash string) error {
	u.w.note("Users.SetPassword")
	return u.Users.SetPassword(ctx, id, hash)
}

func (u watchedUsers) RehashPassword(ctx context.Context, id uuid.UUID, old, hash string) error {
	u.w.note("Users.RehashPassword")
	return u.Users.RehashPassword(ctx, id, old, hash)
}

type watchedSessions struct {
	user.Sessions
	w *slotWatch
}

func (s watchedSessions) Create(ctx context.Context, x user.Session, rt user.RefreshToken) error {
	s.w.note("Sessions.Create")
	return s.Sessions.Create(ctx, x, rt)
}

func (s watchedSessions) RevokeAll(ctx context.Context, id, except uuid.UUID, at time.Time) error {
	s.w.note("Sessions.RevokeAll")
	return s.Sessions.RevokeAll(ctx, id, except, at)
}

type watchedAudit struct {
	user.AuditLog
	w *slotWatch
}

func (a watchedAudit) Append(ctx context.Context, e user.AuditEvent) error {
	a.w.note("Audit.Append")
	return a.AuditLog.Append(ctx, e)
}

// TestHashingSlotIsHeldOnlyForHashing: a hashing slot bounds CPU-bound
// work. Held through a database write, it would leave a core idle for the
// round trip while the next login waits for the slot (on PostgreSQL, login
// throughput fell to 0.86 of hashing capacity).
func TestHashingSlotIsHeldOnlyForHashing(t *testing.T) {
	f := newFixture(t)
	g := &gate{}
	w := &slotWatch{gate: g}
	bcrypt4, _ := security.NewBcrypt(4)
	bcrypt5, _ := security.NewBcrypt(5)
	d := f.deps()
	d.Hasher = bcrypt4
	u, err := user.NewService(d, user.Policy{}).Register(t.Context(), ada)
	if err != nil {
		t.Fatal(err)
	}
	// The current settings differ from the stored hash's, so the first
	// login also re-hashes and stores the new hash.
	d.Stores = usertest.Wrap(f.stores, w.watch)
	d.Hasher = security.NewPasswords(bcrypt5, bcrypt4, nil)
	d.Gate = g
	svc := user.NewService(d, user.Policy{})
	if _, err := svc.Login(t.Context(), "ada", ada.Password, ""); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if got, _ := f.stores.Users.ByID(t.Context(), u.ID); !strings.HasPrefix(got.PasswordHash, "$2a$05$") {
		t.Fatalf("hash after login = %.7s..., want re-hashed at cost 5", got.PasswordHash)
	}
	_, _ = svc.Login(t.Context(), "ada", "wrong password", "")
	_, _ = svc.Login(t.Context(), "nobody", "wrong password", "")
	if err := svc.ChangePassword(t.Context(), signedIn(u.ID, uuid.Nil), ada.Password, "another long one"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if _, err := svc.Register(t.Context(), user.Registration{Email: "b@example.com", Username: "bob", Password: "long enough"}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if len(w.inSlot) > 0 {
		t.Errorf("written while holding a hashing slot: %v, want none", w.inSlot)
	}
	if g.acquired != 5 || g.held != 0 {
		t.Errorf("%d slots taken, %d still held; want 5 and 0", g.acquired, g.held)
	}
}

// hashCounter counts the hashes a Passwords makes.
type hashCounter struct {
	*security.Passwords
	hashes int
}

func (h *hashCounter) Hash(password string) (string, error) {
	h.hashes++
	return h.Passwords.Hash(password)
}

// TestInactiveAccountIsNotRehashed: the right password of an inactive
// account whose hash has old settings gets the same 401, after the same
// single verification, as a wrong one; a re-hash would make it take longer.
func TestInactiveAccountIsNotRehashed(t *testing.T) {
	f := newFixture(t)
	bcrypt4, _ := security.NewBcrypt(4)
	bcrypt5, _ := security.NewBcrypt(5)
	d := f.deps()
	d.Hasher = bcrypt4
	u, err := user.NewService(d, user.Policy{}).Register(t.Context(), ada)
	if err != nil {
		t.Fatal(err)
	}
	f.mem.SetActive(u.ID, false)
	h := &hashCounter{Passwords: security.NewPasswords(bcrypt5, bcrypt4, nil)}
	d.Hasher = h
	svc := user.NewService(d, user.Policy{})
	if _, err := svc.Login(t.Context(), "ada", ada.Password, ""); !errors.Is(err, user.ErrInvalidCredentials) {
		t.Fatalf("Login of an inactive account: %v, want ErrInvalidCredentials", err)
	}
	if h.hashes != 0 {
		t.Errorf("%d hashes made, want 0", h.hashes)
	}
	if got, _ := f.stores.Users.ByID(t.Context(), u.ID); got.PasswordHash != u.PasswordHash {
		t.Errorf("an inactive account's hash changed on a refused login")
	}
}

// guard is a LoginGuard that records the attempts it is told of and,
// while refuse is set, refuses every attempt without a device (as the
// lockout does).
type guard struct {
	admitted, failed, succeeded []user.LoginAttempt
	refuse                      error
}

func (g *guard) Admit(_ context.Context, a user.LoginAttempt) error {
	g.admitted = append(g.admitted, a)
	if a.Device != "" {
		return nil
	}
	return g.refuse
}
func (g *guard) Failed(_ context.Context, a user.LoginAttempt) { g.failed = append(g.failed, a) }
func (g *guard) Succeeded(_ context.Context, a user.LoginAttempt) {
	g.succeeded = append(g.succeeded, a)
}

// keys lists the attempts' account keys, comma-separated.
func keys(as []user.LoginAttempt) string {
	k := make([]string, len(as))
	for i, a := range as {
		k[i] = a.Key
	}
	return strings.Join(k, ",")
}

func TestLoginGuard(t *testing.T) {
	f := newFixture(t)
	g := &guard{}
	d := f.deps()
	d.Guard = g
	f.svc = user.NewService(d, user.Policy{})
	u := f.register(t, ada)
	id := "id:" + u.ID.String()
	ctx := t.Context()

	_, _ = f.svc.Login(ctx, "ADA", "wrong password", "")
	_, _ = f.svc.Login(ctx, "ada@example.com", "wrong password", "")
	_, _ = f.svc.Login(ctx, "Nobody@Example.com", "wrong password", "")
	_, _ = f.svc.Login(ctx, " NOBODY@example.com ", "wrong password", "")
	if _, err := f.svc.Login(ctx, "ada", ada.Password, ""); err != nil {
		t.Fatal(err)
	}
	if want := strings.Join([]string{id, id, "login:nobody@example.com", "login:nobody@example.com"}, ","); keys(g.failed) != want {
		t.Errorf("failed = %s, want %s (one key per account, whatever the login names it by)", keys(g.failed), want)
	}
	if keys(g.succeeded) != id || len(g.admitted) != 5 {
		t.Errorf("succeeded = %s, admitted %d; want %s, 5", keys(g.succeeded), len(g.admitted), id)
	}
	for _, a := range g.admitted {
		if a.Device != "" || a.Fingerprint == "" {
			t.Errorf("attempt %+v: a device without a device token, or no fingerprint", a)
		}
	}

	refused := fmt.Errorf("account locked: %w", user.ErrLocked)
	g.refuse = refused
	verifies, failed := f.hasher.verifies, len(g.failed)
	if _, err := f.svc.Login(ctx, "ada", ada.Password, ""); !errors.Is(err, user.ErrLocked) {
		t.Errorf("Login on a refused account: error = %v, want the guard's", err)
	}
	if f.hasher.verifies != verifies || len(g.failed) != failed || len(g.succeeded) != 1 {
		t.Error("a refused attempt verified a password, or counted as a failure or a success")
	}
	// A device token this account issued names its device; any other
	// token (another account's, forged, garbage) names none.
	g.refuse = nil
	own, err := f.svc.Login(ctx, "ada", ada.Password, "")
	if err != nil || !strings.HasPrefix(own.DeviceToken, "d1.") {
		t.Fatalf("Login = %+v, %v; want a device token", own, err)
	}
	f.register(t, bob)
	theirs, err := f.svc.Login(ctx, "bob", bob.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	forged := own.DeviceToken[:len(own.DeviceToken)-2] + "AA"
	for _, tt := range []struct {
		name, token string
		device      bool
	}{
		{"the account's own device token", own.DeviceToken, true},
		{"another account's", theirs.DeviceToken, false},
		{"a forged one", forged, false},
		{"its own relabelled as a second step's", "d2." + strings.TrimPrefix(own.DeviceToken, "d1."), false},
		{"garbage", "d1.garbage", false},
	} {
		got, err := f.svc.Login(ctx, "ada", ada.Password, tt.token)
		if last := g.admitted[len(g.admitted)-1]; (last.Device != "") != tt.device {
			t.Errorf("Login with %s: attempt %+v, want a device %v", tt.name, last, tt.device)
		}
		if err != nil || (tt.device && got.DeviceToken != own.DeviceToken) || (!tt.device && got.DeviceToken == tt.token) {
			t.Errorf("Login with %s = %q, %v; want the same token back only for the account's own", tt.name, got.DeviceToken, err)
		}
	}
}

// failingRehash is a users store whose RehashPassword fails.
type failingRehash struct{ user.Users }

func (failingRehash) RehashPassword(context.Context, uuid.UUID, string, string) error {
	return errors.New("disk full")
}

// failingHash is a hasher that verifies but cannot make a new hash.
type failingHash struct{ *security.Passwords }

func (failingHash) Hash(string) (string, error) { return "", errors.New("out of memory") }

func TestRehashOnLogin(t *testing.T) {
	bcrypt4, _ := security.NewBcrypt(4)
	bcrypt5, _ := security.NewBcrypt(5)
	argon, err := security.NewArgon2id(security.Argon2Params{MemoryKiB: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	d := f.deps()
	d.Hasher = security.NewPasswords(bcrypt4, bcrypt4, argon)
	old := user.NewService(d, user.Policy{})
	u, err := old.Register(t.Context(), ada)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := old.Login(t.Context(), "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		current security.PasswordHasher
		prefix  string
	}{
		{"bcrypt to argon2id", argon, "$argon2id$"},
		{"argon2id to bcrypt at a new cost", bcrypt5, "$2a$05$"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := f.deps()
			d.Hasher = security.NewPasswords(tt.current, bcrypt4, argon)
			svc := user.NewService(d, user.Policy{})
			if _, err := svc.Login(t.Context(), "ada", ada.Password, ""); err != nil {
				t.Fatalf("Login with the old hash: %v", err)
			}
			got, _ := f.stores.Users.ByID(t.Context(), u.ID)
			if !strings.HasPrefix(got.PasswordHash, tt.prefix) {
				t.Errorf("hash after login = %.12s..., want %s...", got.PasswordHash, tt.prefix)
			}
			if _, _, err := svc.Authenticate(t.Context(), tok.Token); err != nil {
				t.Errorf("a token from before the re-hash: %v, want still valid (the password did not change)", err)
			}
			if _, err := svc.Login(t.Context(), "ada", ada.Password, ""); err != nil {
				t.Errorf("Login with the new hash: %v", err)
			}
		})
	}

	// A re-hash that fails, in the store or in the hashing, leaves the old
	// hash, does not fail the login, and is logged (without the password).
	before, _ := f.stores.Users.ByID(t.Context(), u.ID)
	current := security.NewPasswords(bcrypt4, bcrypt4, argon) // the stored hash is bcrypt at cost 5
	for _, tt := range []struct {
		name  string
		setup func(*user.Deps)
		error string
	}{
		{"in the store", func(d *user.Deps) {
			d.Stores = usertest.Wrap(d.Stores, func(s user.Stores) user.Stores { s.Users = failingRehash{s.Users}; return s })
		}, "disk full"},
		{"in the hashing", func(d *user.Deps) { d.Hasher = failingHash{current} }, "out of memory"},
	} {
		logs := &logs{}
		d := f.deps()
		d.Hasher, d.Log = current, logs.logger()
		tt.setup(&d)
		if _, err := user.NewService(d, user.Policy{}).Login(t.Context(), "ada", ada.Password, ""); err != nil {
			t.Errorf("Login when the re-hash fails %s: %v, want success", tt.name, err)
		}
		if r := logs.records(t, logRehashFail); len(r) != 1 || r[0]["level"] != "WARN" || r[0]["error"] != tt.error {
			t.Errorf("re-hash failing %s: logged %v, want one warning with the error %q", tt.name, r, tt.error)
		}
		if strings.Contains(logs.String(), ada.Password) {
			t.Errorf("re-hash failing %s: the log holds the password", tt.name)
		}
		if got, _ := f.stores.Users.ByID(t.Context(), u.ID); got.PasswordHash != before.PasswordHash {
			t.Errorf("re-hash failing %s: the stored hash changed", tt.name)
		}
	}
}

// TestSensitiveChangesWithTheDatabaseDown: with the store failing, a
// re-authentication and a new set of recovery codes answer the store's
// error and hand out nothing: no renewed window, and no codes that the
// failed write would leave unusable.
func TestSensitiveChangesWithTheDatabaseDown(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	f.mem.SetFail(errDown)
	defer f.mem.SetFail(nil)
	if err := f.svc.Reauthenticate(t.Context(), signedIn(u.ID, uuid.Nil), ada.Password); !errors.Is(err, errDown) {
		t.Errorf("Reauthenticate with the database down: error = %v, want errDown", err)
	}
	codes, err := f.svc.RegenerateRecoveryCodes(t.Context(), signedIn(u.ID, uuid.Nil))
	if !errors.Is(err, errDown) || codes != nil {
		t.Errorf("RegenerateRecoveryCodes with the database down = %d codes, %v; want none and errDown", len(codes), err)
	}
}
