package user_test

import (
	"context"
	"errors"
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
	f.svc = user.NewService(f.repo, f.hasher, f.tokens, user.WithPasswordPolicy(p))
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
			if f.repo.Len() != 0 {
				t.Errorf("%d users stored, want none", f.repo.Len())
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
		err := f.svc.ChangePassword(t.Context(), u.ID, ada.Password, tt.next)
		var v *user.ValidationError
		if !errors.As(err, &v) || v.Field != "new_password" || !strings.Contains(v.Message, tt.msg) {
			t.Errorf("ChangePassword(%q) error = %v, want new_password: %q", tt.next, err, tt.msg)
		}
	}
	if err := f.svc.ChangePassword(t.Context(), u.ID, ada.Password, "a fine new passphrase"); err != nil {
		t.Errorf("ChangePassword(good) error = %v", err)
	}
}

// gate is a HashGate that counts acquisitions and can refuse.
type gate struct {
	mu       sync.Mutex
	acquired int
	held     int
	refuse   bool
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
	f.svc = user.NewService(f.repo, f.hasher, f.tokens, user.WithHashGate(g))
	u := f.register(t, ada)
	inactive := f.register(t, user.Registration{Email: "off@example.com", Username: "off", Password: "long enough"})
	f.repo.SetActive(inactive.ID, false)
	for _, tt := range []struct{ name, login, password string }{
		{"right password", "ada", ada.Password},
		{"wrong password", "ada", "wrong password"},
		{"unknown user", "nobody", ada.Password},
		{"inactive user", "off", "long enough"},
	} {
		before, verifies := g.acquired, f.hasher.verifies
		_, _ = f.svc.Login(t.Context(), tt.login, tt.password)
		if g.acquired-before != 1 || f.hasher.verifies-verifies != 1 {
			t.Errorf("%s: %d slots, %d verifications; want 1 and 1", tt.name, g.acquired-before, f.hasher.verifies-verifies)
		}
	}
	if err := f.svc.ChangePassword(t.Context(), u.ID, ada.Password, "another long one"); err != nil {
		t.Fatal(err)
	}
	if g.held != 0 {
		t.Errorf("%d slots still held, want 0", g.held)
	}

	g.refuse = true
	if _, err := f.svc.Login(t.Context(), "ada", "another long one"); !errors.Is(err, user.ErrBusy) {
		t.Errorf("Login with no slot: error = %v, want ErrBusy", err)
	}
	if _, err := f.svc.Login(t.Context(), "nobody", "x"); !errors.Is(err, user.ErrBusy) {
		t.Errorf("Login of an unknown user with no slot: error = %v, want ErrBusy (same as a known one)", err)
	}
	if _, err := f.svc.Register(t.Context(), user.Registration{Email: "b@example.com", Username: "bob", Password: "long enough"}); !errors.Is(err, user.ErrBusy) {
		t.Errorf("Register with no slot: error = %v, want ErrBusy", err)
	}
	if err := f.svc.ChangePassword(t.Context(), u.ID, "another long one", "and yet another"); !errors.Is(err, user.ErrBusy) {
		t.Errorf("ChangePassword with no slot: error = %v, want ErrBusy", err)
	}
}

func (g *gate) holding() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held > 0
}

// slotWatch is a repository and audit log that note each write made while
// a hashing slot is held.
type slotWatch struct {
	*usertest.Memory
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

func (w *slotWatch) Create(ctx context.Context, u user.User) (user.User, error) {
	w.note("Create")
	return w.Memory.Create(ctx, u)
}

func (w *slotWatch) CreateSession(ctx context.Context, s user.Session, rt user.RefreshToken) error {
	w.note("CreateSession")
	return w.Memory.CreateSession(ctx, s, rt)
}

func (w *slotWatch) SetPassword(ctx context.Context, id uuid.UUID, hash string) error {
	w.note("SetPassword")
	return w.Memory.SetPassword(ctx, id, hash)
}

func (w *slotWatch) RehashPassword(ctx context.Context, id uuid.UUID, old, hash string) error {
	w.note("RehashPassword")
	return w.Memory.RehashPassword(ctx, id, old, hash)
}

func (w *slotWatch) RevokeSessions(ctx context.Context, id, except uuid.UUID, at time.Time) error {
	w.note("RevokeSessions")
	return w.Memory.RevokeSessions(ctx, id, except, at)
}

func (w *slotWatch) AppendAudit(context.Context, user.AuditEvent) error {
	w.note("AppendAudit")
	return nil
}

// TestHashingSlotIsHeldOnlyForHashing: a hashing slot bounds CPU-bound
// work. Held through a database write, it would leave a core idle for the
// round trip while the next login waits for the slot (on PostgreSQL, login
// throughput fell to 0.86 of hashing capacity).
func TestHashingSlotIsHeldOnlyForHashing(t *testing.T) {
	f := newFixture(t)
	g := &gate{}
	w := &slotWatch{Memory: f.repo, gate: g}
	bcrypt4, _ := security.NewBcrypt(4)
	bcrypt5, _ := security.NewBcrypt(5)
	old := user.NewService(w, bcrypt4, f.tokens)
	u, err := old.Register(t.Context(), ada)
	if err != nil {
		t.Fatal(err)
	}
	// The current settings differ from the stored hash's, so the first
	// login also re-hashes and stores the new hash.
	svc := user.NewService(w, security.NewPasswords(bcrypt5, bcrypt4, nil), f.tokens,
		user.WithHashGate(g), user.WithAuditLog(w, nil))
	if _, err := svc.Login(t.Context(), "ada", ada.Password); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if got, _ := f.repo.ByID(t.Context(), u.ID); !strings.HasPrefix(got.PasswordHash, "$2a$05$") {
		t.Fatalf("hash after login = %.7s..., want re-hashed at cost 5", got.PasswordHash)
	}
	_, _ = svc.Login(t.Context(), "ada", "wrong password")
	_, _ = svc.Login(t.Context(), "nobody", "wrong password")
	if err := svc.ChangePassword(t.Context(), u.ID, ada.Password, "another long one"); err != nil {
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
	u, err := user.NewService(f.repo, bcrypt4, f.tokens).Register(t.Context(), ada)
	if err != nil {
		t.Fatal(err)
	}
	f.repo.SetActive(u.ID, false)
	h := &hashCounter{Passwords: security.NewPasswords(bcrypt5, bcrypt4, nil)}
	svc := user.NewService(f.repo, h, f.tokens)
	if _, err := svc.Login(t.Context(), "ada", ada.Password); !errors.Is(err, user.ErrInvalidCredentials) {
		t.Fatalf("Login of an inactive account: %v, want ErrInvalidCredentials", err)
	}
	if h.hashes != 0 {
		t.Errorf("%d hashes made, want 0", h.hashes)
	}
	if got, _ := f.repo.ByID(t.Context(), u.ID); got.PasswordHash != u.PasswordHash {
		t.Errorf("an inactive account's hash changed on a refused login")
	}
}

// guard is a LoginGuard that records what it is told.
type guard struct {
	checked, failed, succeeded []string
	refuse                     error
}

func (g *guard) Check(_ context.Context, key string) error {
	g.checked = append(g.checked, key)
	return g.refuse
}
func (g *guard) Failed(_ context.Context, key string)    { g.failed = append(g.failed, key) }
func (g *guard) Succeeded(_ context.Context, key string) { g.succeeded = append(g.succeeded, key) }

func TestLoginGuard(t *testing.T) {
	f := newFixture(t)
	g := &guard{}
	f.svc = user.NewService(f.repo, f.hasher, f.tokens, user.WithLoginGuard(g))
	u := f.register(t, ada)
	id := "id:" + u.ID.String()

	_, _ = f.svc.Login(t.Context(), "ADA", "wrong password")
	_, _ = f.svc.Login(t.Context(), "ada@example.com", "wrong password")
	_, _ = f.svc.Login(t.Context(), "Nobody@Example.com", "wrong password")
	if _, err := f.svc.Login(t.Context(), "ada", ada.Password); err != nil {
		t.Fatal(err)
	}
	wantFailed := []string{id, id, "login:nobody@example.com"}
	if strings.Join(g.failed, ",") != strings.Join(wantFailed, ",") {
		t.Errorf("failed = %v, want %v (one key per account, whatever the login names it by)", g.failed, wantFailed)
	}
	if len(g.succeeded) != 1 || g.succeeded[0] != id || len(g.checked) != 4 {
		t.Errorf("succeeded = %v, checked %d; want [%s], 4", g.succeeded, len(g.checked), id)
	}

	refused := errors.New("locked")
	g.refuse = refused
	verifies := f.hasher.verifies
	if _, err := f.svc.Login(t.Context(), "ada", ada.Password); !errors.Is(err, refused) {
		t.Errorf("Login on a refused account: error = %v, want the guard's", err)
	}
	if f.hasher.verifies != verifies {
		t.Error("a refused attempt verified a password")
	}
	if _, err := f.svc.Login(user.WithSession(t.Context(), u.ID), "ada", ada.Password); err != nil {
		t.Errorf("Login of a refused account from its own session: %v, want success", err)
	}
	if _, err := f.svc.Login(user.WithSession(t.Context(), uuid.New()), "ada", ada.Password); !errors.Is(err, refused) {
		t.Errorf("Login of a refused account from another's session: %v, want refused", err)
	}
}

// failingRehash is a repository whose RehashPassword fails.
type failingRehash struct{ *usertest.Memory }

func (failingRehash) RehashPassword(context.Context, uuid.UUID, string, string) error {
	return errors.New("disk full")
}

func TestRehashOnLogin(t *testing.T) {
	bcrypt4, _ := security.NewBcrypt(4)
	bcrypt5, _ := security.NewBcrypt(5)
	argon, err := security.NewArgon2id(security.Argon2Params{MemoryKiB: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	old := user.NewService(f.repo, security.NewPasswords(bcrypt4, bcrypt4, argon), f.tokens)
	u, err := old.Register(t.Context(), ada)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := old.Login(t.Context(), "ada", ada.Password)
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
			svc := user.NewService(f.repo, security.NewPasswords(tt.current, bcrypt4, argon), f.tokens)
			if _, err := svc.Login(t.Context(), "ada", ada.Password); err != nil {
				t.Fatalf("Login with the old hash: %v", err)
			}
			got, _ := f.repo.ByID(t.Context(), u.ID)
			if !strings.HasPrefix(got.PasswordHash, tt.prefix) {
				t.Errorf("hash after login = %.12s..., want %s...", got.PasswordHash, tt.prefix)
			}
			if _, err := svc.Authenticate(t.Context(), tok.Token); err != nil {
				t.Errorf("a token from before the re-hash: %v, want still valid (the password did not change)", err)
			}
			if _, err := svc.Login(t.Context(), "ada", ada.Password); err != nil {
				t.Errorf("Login with the new hash: %v", err)
			}
		})
	}

	var reported []error
	svc := user.NewService(failingRehash{f.repo}, security.NewPasswords(bcrypt4, bcrypt4, argon), f.tokens,
		user.WithRehashErrors(func(_ context.Context, err error) { reported = append(reported, err) }))
	if _, err := svc.Login(t.Context(), "ada", ada.Password); err != nil {
		t.Errorf("Login when the re-hash fails: %v, want success", err)
	}
	if len(reported) != 1 {
		t.Errorf("re-hash errors reported = %v, want one", reported)
	}
}
