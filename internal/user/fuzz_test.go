package user_test

import (
	"net/mail"
	"regexp"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/user"
)

// FuzzValidateEmail checks that an accepted email is what the README
// promises: at most 254 printable ASCII characters, a bare address that
// net/mail reads back unchanged, a dotted domain; and that acceptance does
// not depend on letter case (uniqueness ignores it).
func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{
		"ada@example.com", "Ada.Lovelace+tag@sub.example.co.uk", "ADA@EXAMPLE.COM", "a@b", "a@b.", "a@.b", "a@b..c",
		"Ada <ada@example.com>", "ada@example.com (comment)", `"a b"@example.com`, "аda@example.com",
		"ada@exa\u200bmple.com", "ada@[127.0.0.1]", "ada@example.com\x00", "' OR 1=1 --@example.com",
		"{{7*7}}@example.com", strings.Repeat("a", 243) + "@example.com", "", "@", "a@@b.c", "\xff@example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, email string) {
		err := user.ValidateEmail(email)
		if err != nil {
			if _, ok := err.(*user.ValidationError); !ok {
				t.Fatalf("ValidateEmail(%q) = %T, want *user.ValidationError", email, err)
			}
			return
		}
		if len(email) > user.MaxEmail {
			t.Fatalf("accepted %d characters", len(email))
		}
		for i := 0; i < len(email); i++ {
			if email[i] <= ' ' || email[i] > '~' {
				t.Fatalf("accepted %q with byte %#x", email, email[i])
			}
		}
		addr, perr := mail.ParseAddress(email)
		if perr != nil || addr.Name != "" || addr.Address != email {
			t.Fatalf("accepted %q, which net/mail reads as %v, %v", email, addr, perr)
		}
		domain := email[strings.LastIndexByte(email, '@')+1:]
		if !strings.Contains(domain, ".") || strings.Contains(domain, "..") {
			t.Fatalf("accepted %q without a dotted domain", email)
		}
		if user.ValidateEmail(strings.ToLower(email)) != nil || user.ValidateEmail(strings.ToUpper(email)) != nil {
			t.Fatalf("accepted %q but not its other letter case", email)
		}
	})
}

var usernameRule = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,32}$`)

// FuzzValidateUsername checks that ValidateUsername accepts exactly the
// README's rule: 3 to 32 of A-Z a-z 0-9 _ . -
func FuzzValidateUsername(f *testing.F) {
	for _, s := range []string{"ada", "ab", strings.Repeat("a", 32), strings.Repeat("a", 33), "a-b.c_d", "ada@x",
		"adа", "ad\x00a", "ad a", "' OR 1=1", "{{x}}", "\xff\xfe\xfd", "ada\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := user.ValidateUsername(name) == nil
		if want := usernameRule.MatchString(name); got != want {
			t.Fatalf("ValidateUsername(%q) accepted = %v, want %v", name, got, want)
		}
	})
}

// FuzzValidatePassword checks the length rules: 8 characters to 72 bytes
// of valid UTF-8, never more (bcrypt would truncate).
func FuzzValidatePassword(f *testing.F) {
	for _, s := range []string{"correct horse", "short", strings.Repeat("é", 36), strings.Repeat("é", 37),
		strings.Repeat("x", 72), strings.Repeat("x", 73), "\xff\xff\xff\xff\xff\xff\xff\xff", "\x00\x00\x00\x00\x00\x00\x00\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, password string) {
		if user.ValidatePassword("password", password) != nil {
			return
		}
		if len(password) > user.MaxPasswordBytes || len([]rune(password)) < user.MinPasswordChars ||
			strings.ToValidUTF8(password, "") != password {
			t.Fatalf("accepted password %q", password)
		}
	})
}
