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
		return invalid("email", CodeRequired)
	case len(email) > MaxEmail:
		return invalid("email", CodeEmailTooLong, MaxEmail)
	case !isPrintableASCII(email):
		return invalid("email", CodeEmailCharacters)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return invalid("email", CodeEmailMalformed)
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.Contains(domain, "..") || strings.HasPrefix(domain, "[") {
		return invalid("email", CodeEmailDomain)
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
		return invalid("username", CodeUsernameLength, MinUsername, MaxUsername)
	}
	if !usernamePattern.MatchString(username) {
		return invalid("username", CodeUsernameChars)
	}
	return nil
}

// ValidatePassword checks the length rules of field (the wire name).
func ValidatePassword(field, password string) error {
	if !utf8.ValidString(password) {
		return invalid(field, CodeNotUTF8)
	}
	if utf8.RuneCountInString(password) < MinPasswordChars {
		return invalid(field, CodePasswordTooShort, MinPasswordChars)
	}
	if len(password) > MaxPasswordBytes {
		return invalid(field, CodePasswordTooLong, MaxPasswordBytes)
	}
	return nil
}

// ValidateFullName accepts up to 255 characters of valid UTF-8 with no
// control, format (bidi overrides, zero-width characters) or line and
// paragraph separator characters: a name shows in listings and must not
// reorder or hide the text around it.
func ValidateFullName(name string) error {
	if !utf8.ValidString(name) {
		return invalid("full_name", CodeNotUTF8)
	}
	if utf8.RuneCountInString(name) > MaxFullName {
		return invalid("full_name", CodeNameTooLong, MaxFullName)
	}
	if strings.IndexFunc(name, unsafeRune) >= 0 {
		return invalid("full_name", CodeNameCharacters)
	}
	return nil
}
