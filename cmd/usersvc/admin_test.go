package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/storetest"
)

// databases are the settings of a fresh database of each kind.
var databases = []struct {
	name    string
	environ func(t *testing.T) []string
}{
	{"sqlite", func(t *testing.T) []string {
		return []string{"USERSVC_DATA_DIR=" + t.TempDir(), "USERSVC_BCRYPT_COST=4"}
	}},
	{"postgres", func(t *testing.T) []string {
		return []string{"USERSVC_DATA_DIR=" + t.TempDir(), "USERSVC_BCRYPT_COST=4", "DATABASE_URL=" + storetest.PostgresURL(t)}
	}},
}

// loginToken returns the access token of name on base, failing unless the
// login succeeds.
func loginToken(t *testing.T, base, name, password string) string {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	form := url.Values{"username": {name}, "password": {password}}.Encode()
	if got := call(t, "POST", base+"/api/v1/token", "", "application/x-www-form-urlencoded", form, &tok); got != http.StatusOK {
		t.Fatalf("login %s: status %d, want 200", name, got)
	}
	return tok.AccessToken
}

// roleClaim is the role an access token asserts.
func roleClaim(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Role string }
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Role
}

func createAdminCmd(environ []string, stdin string, args ...string) (string, error) {
	var out bytes.Buffer
	var in io.Reader
	if stdin != "-" {
		in = strings.NewReader(stdin)
	}
	err := runWithStreams(context.Background(), append([]string{"create-admin"}, args...), environ, in, &out, io.Discard)
	return out.String(), err
}

func TestCreateAdmin(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			environ := db.environ(t)
			if err := run(context.Background(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
				t.Fatal(err)
			}
			out, err := createAdminCmd(environ, "root admin password\nignored second line\n",
				"--email", "root@example.com", "--username", "root", "--full-name", "Root")
			if err != nil || !strings.Contains(out, "created administrator root") {
				t.Fatalf("create-admin = %q, %v; want the administrator created", out, err)
			}
			if strings.Contains(out, "root admin password") {
				t.Errorf("create-admin printed the password: %q", out)
			}
			srv := start(t, environ)
			token := loginToken(t, srv.base, "root", "root admin password")
			if role := roleClaim(t, token); role != "admin" {
				t.Errorf("the created administrator's token: role %q, want admin", role)
			}
			var me struct {
				FullName string `json:"full_name"`
				Role     string
			}
			if got := call(t, "GET", srv.base+"/api/v1/users/me", token, "", "", &me); got != http.StatusOK || me.Role != "admin" || me.FullName != "Root" {
				t.Errorf("GET /users/me = %d %+v, want the admin Root", got, me)
			}
			if got := call(t, "GET", srv.base+"/api/v1/admin/users", token, "", "", nil); got != http.StatusOK {
				t.Errorf("GET /admin/users as the created admin: %d, want 200", got)
			}

			// An existing account is promoted only when asked, with proof.
			if got := call(t, "POST", srv.base+"/api/v1/register", "", "application/json",
				`{"email":"ada@example.com","username":"ada","password":"correct horse"}`, nil); got != http.StatusCreated {
				t.Fatalf("register: %d", got)
			}
			if _, err := createAdminCmd(environ, "-", "--promote-existing", "--email", "ada@example.com", "--username", "ADA"); err == nil ||
				!strings.Contains(err.Error(), "not verified") {
				t.Fatalf("create-admin --promote-existing of an unverified account without a password = %v, want refused", err)
			}
			if _, err := createAdminCmd(environ, "\n", "--promote-existing", "--email", "ada@example.com", "--username", "ADA"); err == nil ||
				!strings.Contains(err.Error(), "empty line") {
				t.Fatalf("create-admin --promote-existing with an empty line on stdin = %v, want refused", err)
			}
			pwFile := filepath.Join(t.TempDir(), "admin-password")
			if err := os.WriteFile(pwFile, []byte("ada's new admin password\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err = createAdminCmd(environ, "-", "--promote-existing", "--password-file", pwFile, "--email", "ada@example.com", "--username", "ADA")
			if err != nil || !strings.Contains(out, "ada") || !strings.Contains(out, "now an administrator") {
				t.Fatalf("create-admin --promote-existing --password-file = %q, %v; want it promoted", out, err)
			}
			if got := call(t, "POST", srv.base+"/api/v1/token", "", "application/x-www-form-urlencoded",
				url.Values{"username": {"ada"}, "password": {"correct horse"}}.Encode(), nil); got != http.StatusUnauthorized {
				t.Errorf("login with the registrant's password after the promotion: %d, want 401", got)
			}
			if role := roleClaim(t, loginToken(t, srv.base, "ada", "ada's new admin password")); role != "admin" {
				t.Errorf("the promoted user's token: role %q, want admin", role)
			}
			// Email and username of different accounts: refused.
			if _, err := createAdminCmd(environ, "-", "--promote-existing", "--email", "ada@example.com", "--username", "root"); err == nil || !strings.Contains(err.Error(), "username") {
				t.Errorf("create-admin with ada's email and root's username = %v, want an error about the username", err)
			}
			if _, err := createAdminCmd(environ, "x long password\n", "--promote-existing", "--email", "new@example.com", "--username", "ada"); err == nil || !strings.Contains(err.Error(), "email") {
				t.Errorf("create-admin with a new email and ada's username = %v, want an error about the email", err)
			}
		})
	}
}

// TestCreateAdminNeverPromotesAPreRegisteredAccount: an attacker who
// registered the operator's email and username (the README's example pair)
// before the operator ran create-admin gets nothing: the command refuses
// to touch the existing account, which stays a user with the attacker's
// password, unable to reach the admin API.
func TestCreateAdminNeverPromotesAPreRegisteredAccount(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			environ := db.environ(t)
			srv := start(t, environ)
			if got := call(t, "POST", srv.base+"/api/v1/register", "", "application/json",
				`{"email":"root@example.com","username":"root","password":"attacker chose this"}`, nil); got != http.StatusCreated {
				t.Fatalf("the attacker's registration: %d", got)
			}
			out, err := createAdminCmd(environ, "the operator's password\n", "--email", "root@example.com", "--username", "root")
			if err == nil || !strings.Contains(err.Error(), "--promote-existing") {
				t.Fatalf("create-admin over a pre-registered account = %q, %v; want a refusal naming --promote-existing", out, err)
			}
			token := loginToken(t, srv.base, "root", "attacker chose this")
			if role := roleClaim(t, token); role != "user" {
				t.Errorf("the attacker's token after create-admin: role %q, want user", role)
			}
			if got := call(t, "GET", srv.base+"/api/v1/admin/users", token, "", "", nil); got != http.StatusForbidden {
				t.Errorf("the attacker on the admin API: %d, want 403", got)
			}
			// Promoting it anyway needs proof: the unverified address is not it.
			if _, err := createAdminCmd(environ, "-", "--promote-existing", "--email", "root@example.com", "--username", "root"); err == nil {
				t.Error("create-admin --promote-existing of the unverified pre-registered account without a new password succeeded")
			}
			if got := call(t, "GET", srv.base+"/api/v1/admin/users", token, "", "", nil); got != http.StatusForbidden {
				t.Errorf("the attacker on the admin API after a refused promotion: %d, want 403", got)
			}
		})
	}
}

func TestCreateAdminRefusesPasswordArguments(t *testing.T) {
	environ := []string{"USERSVC_DATA_DIR=" + t.TempDir()}
	for _, args := range [][]string{
		{"--email", "a@example.com", "--username", "a", "--password", "hunter2hunter2"},
		{"--email", "a@example.com", "--username", "a", "--password=hunter2hunter2"},
		{"-password", "hunter2hunter2", "--email", "a@example.com", "--username", "a"},
	} {
		// A flag create-admin does not take is a misuse: exit status 2, as
		// for any other unknown flag (it was 1).
		if _, err := createAdminCmd(environ, "-", args...); !errors.Is(err, errPasswordFlag) || exitCode(err) != 2 {
			t.Errorf("create-admin %q = %v (exit %d), want the password-flag refusal, exit 2", args, err, exitCode(err))
		}
	}
	for _, args := range [][]string{
		{"--email", "a@example.com", "--username", "a", "hunter2hunter2"},
		{"--email", "a@example.com"},
		{"--bogus"},
	} {
		_, err := createAdminCmd(environ, "-", args...)
		if err == nil || !strings.Contains(err.Error(), "usage: usersvc create-admin") {
			t.Errorf("create-admin %q = %v, want a usage error", args, err)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("create-admin %q repeats a stray argument: %v", args, err)
		}
	}
}

func TestCreateAdminAppliesThePasswordPolicy(t *testing.T) {
	environ := []string{"USERSVC_DATA_DIR=" + t.TempDir(), "USERSVC_BCRYPT_COST=4", "USERSVC_PASSWORD_MIN_LENGTH=12"}
	if err := run(context.Background(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, stdin, want string }{
		{"no stdin", "-", "needs a password"},
		{"empty line", "\n", "needs a password"},
		// Nothing at all on stdin (docker exec without -i) said "stdin gave
		// an empty line", which no line was.
		{"empty stdin", "", "stdin was empty"},
		{"under USERSVC_PASSWORD_MIN_LENGTH", "elevenchars\n", "at least 12 characters"},
		{"breached", "password1234\n", "too common"},
		{"the username", "rootrootroot\n", "same as your email or username"},
	} {
		_, err := createAdminCmd(environ, tt.stdin, "--email", "root@example.com", "--username", "rootrootroot")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: create-admin = %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
	if _, err := createAdminCmd(environ, "a fine long password\r\n", "--email", "root@example.com", "--username", "rootrootroot"); err != nil {
		t.Errorf("create-admin with a good password = %v", err)
	}
}

// TestBootstrapAdmin starts the service with USERSVC_BOOTSTRAP_ADMIN_*:
// the administrator is created once, later starts change nothing, and an
// account of that name the password does not open stops the start.
func TestBootstrapAdmin(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			environ := db.environ(t)
			plain := start(t, environ)
			if got := call(t, "POST", plain.base+"/api/v1/register", "", "application/json",
				`{"email":"boss@example.com","username":"boss","password":"registered first"}`, nil); got != http.StatusCreated {
				t.Fatalf("register: %d", got)
			}
			if err := plain.stop(); err != nil {
				t.Fatal(err)
			}
			boot := append(environ, "USERSVC_BOOTSTRAP_ADMIN_EMAIL=boss@example.com", "USERSVC_BOOTSTRAP_ADMIN_USERNAME=boss",
				"USERSVC_BOOTSTRAP_ADMIN_PASSWORD=b00tstrap s3cret")
			err := run(context.Background(), []string{"serve"}, append(boot, "USERSVC_ADDR=127.0.0.1:0", "USERSVC_OPS_ADDR=127.0.0.1:0"), io.Discard)
			if err == nil || !strings.Contains(err.Error(), config.EnvBootstrapEmail) || strings.Contains(err.Error(), "b00tstrap s3cret") {
				t.Fatalf("serve with a bootstrap admin someone else registered = %v, want an error naming the variables (not the password)", err)
			}

			boot = append(environ, "USERSVC_BOOTSTRAP_ADMIN_EMAIL=root@example.com", "USERSVC_BOOTSTRAP_ADMIN_USERNAME=root",
				"USERSVC_BOOTSTRAP_ADMIN_PASSWORD=b00tstrap s3cret")
			first := start(t, boot)
			token := loginToken(t, first.base, "root", "b00tstrap s3cret")
			if role := roleClaim(t, token); role != "admin" {
				t.Errorf("the bootstrap administrator's token: role %q, want admin", role)
			}
			// Restarts, and another bootstrap admin once one exists: nothing changes.
			second := start(t, boot)
			other := start(t, append(environ, "USERSVC_BOOTSTRAP_ADMIN_EMAIL=other@example.com", "USERSVC_BOOTSTRAP_ADMIN_USERNAME=other",
				"USERSVC_BOOTSTRAP_ADMIN_PASSWORD=another password"))
			var page struct{ Items []struct{ Username string } }
			if got := call(t, "GET", second.base+"/api/v1/admin/users?role=admin", token, "", "", &page); got != http.StatusOK {
				t.Fatalf("list admins: %d", got)
			}
			if len(page.Items) != 1 || page.Items[0].Username != "root" {
				t.Errorf("admins after three starts = %+v, want root alone", page.Items)
			}
			if got := call(t, "POST", other.base+"/api/v1/token", "", "application/x-www-form-urlencoded",
				url.Values{"username": {"other"}, "password": {"another password"}}.Encode(), nil); got != http.StatusUnauthorized {
				t.Errorf("login of a bootstrap admin configured after one existed: %d, want 401 (not created)", got)
			}
			for _, srv := range []started{first, second, other} {
				if err := srv.stop(); err != nil {
					t.Errorf("stop: %v", err)
				}
				if strings.Contains(srv.logs.String(), "b00tstrap s3cret") {
					t.Error("the logs contain the bootstrap password")
				}
			}
		})
	}
}
