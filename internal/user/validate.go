package user

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Input limits. Passwords are limited in bytes because bcrypt ignores
// everything past 72 bytes; we refuse rather than truncate silently.
const (
	MinPasswordChars = 8
	MaxPasswordBytes = 72
	MinUsername      = 3
	MaxUsername      = 32
	MaxEmail         = 254
	MaxFullName      = 255
)

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ValidateEmail accepts a bare ASCII address (no display name, no comments)
// whose domain has at least one dot. ASCII only keeps case-insensitive
// uniqueness identical on every store and rules out look-alike addresses.
func ValidateEmail(email string) error {
	switch {
	case email == "":
		return invalid("email", "is required")
	case len(email) > MaxEmail:
		return invalid("email", "must be at most %d characters", MaxEmail)
	case !isPrintableASCII(email):
		return invalid("email", "must contain only printable ASCII characters and no spaces")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return invalid("email", "is not a valid email address")
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.Contains(domain, "..") || strings.HasPrefix(domain, "[") {
		return invalid("email", "must have a domain name such as example.com")
	}
	return nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ValidateUsername accepts 3 to 32 letters, digits, '_', '.' or '-'.
func ValidateUsername(username string) error {
	if n := len(username); n < MinUsername || n > MaxUsername {
		return invalid("username", "must be %d to %d characters", MinUsername, MaxUsername)
	}
	if !usernamePattern.MatchString(username) {
		return invalid("username", "may contain only letters, digits, '_', '.' and '-'")
	}
	return nil
}

// ValidatePassword checks the length rules of field (the wire name).
func ValidatePassword(field, password string) error {
	if !utf8.ValidString(password) {
		return invalid(field, "must be valid UTF-8")
	}
	if utf8.RuneCountInString(password) < MinPasswordChars {
		return invalid(field, "must be at least %d characters", MinPasswordChars)
	}
	if len(password) > MaxPasswordBytes {
		return invalid(field, "must be at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// ValidateFullName accepts up to 255 characters of valid UTF-8 with no
// control, format (bidi overrides, zero-width characters) or line and
// paragraph separator characters: a name shows in listings and must not
// reorder or hide the text around it.
func ValidateFullName(name string) error {
	if !utf8.ValidString(name) {
		return invalid("full_name", "must be valid UTF-8")
	}
	if utf8.RuneCountInString(name) > MaxFullName {
		return invalid("full_name", "must be at most %d characters", MaxFullName)
	}
	if strings.IndexFunc(name, unsafeRune) >= 0 {
		return invalid("full_name", "must not contain control, format (such as bidi overrides or zero-width characters) or line separator characters")
	}
	return nil
}
