package oauthclient

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/usersvc/usersvc/internal/user"
)

// Limits of what a client holds.
const (
	MaxName         = 100
	MaxRedirectURIs = 10
	MaxRedirectURI  = 2000
	// secretBytes is the randomness of a generated secret.
	secretBytes = 32
	// SecretPrefix starts every generated secret, so that scanners and
	// people recognise one.
	SecretPrefix = "ucs_" //nolint:gosec // a prefix, no credential
)

func invalid(field, format string, args ...any) error {
	return &user.ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// validate checks c's fields and how they fit together.
func validate(c Client) error {
	var errs []error
	if n := strings.TrimSpace(c.Name); n == "" || len(c.Name) > MaxName || strings.IndexFunc(c.Name, unicode.IsControl) >= 0 {
		errs = append(errs, invalid("name", "must be 1 to %d characters, without control characters", MaxName))
	}
	if !slices.Contains(AuthMethods, c.AuthMethod) {
		errs = append(errs, invalid("token_endpoint_auth_method", "must be one of %s", strings.Join(AuthMethods, ", ")))
	}
	errs = append(errs, checkList("grant_types", c.Grants, Grants)...)
	errs = append(errs, checkList("scopes", c.Scopes, Scopes)...)
	if len(c.Grants) == 0 {
		errs = append(errs, invalid("grant_types", "must name at least one grant type"))
	}
	if c.Public() && c.Allows(GrantClientCredentials) {
		errs = append(errs, invalid("grant_types", "client_credentials needs a confidential client (a secret)"))
	}
	if c.Allows(GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		errs = append(errs, invalid("redirect_uris", "authorization_code needs at least one redirect URI"))
	}
	for _, s := range AdminScopes {
		if c.AllowsScope(s) && !c.Allows(GrantClientCredentials) {
			errs = append(errs, invalid("scopes", "%s is for service accounts: it needs the client_credentials grant", s))
		}
	}
	errs = append(errs, checkURIs("redirect_uris", c.RedirectURIs)...)
	errs = append(errs, checkURIs("post_logout_redirect_uris", c.PostLogoutRedirectURIs)...)
	return errors.Join(errs...)
}

// checkList checks that every value is one of known, once.
func checkList(field string, values, known []string) []error {
	var errs []error
	for i, v := range values {
		if !slices.Contains(known, v) {
			errs = append(errs, invalid(field, "unknown value %q: must be among %s", v, strings.Join(known, " ")))
		} else if slices.Index(values, v) != i {
			errs = append(errs, invalid(field, "%q is named twice", v))
		}
	}
	return errs
}

func checkURIs(field string, uris []string) []error {
	if len(uris) > MaxRedirectURIs {
		return []error{invalid(field, "must be at most %d URIs", MaxRedirectURIs)}
	}
	var errs []error
	for i, u := range uris {
		if err := CheckRedirectURI(u); err != nil {
			errs = append(errs, invalid(field, "%q: %s", u, err.Error()))
		} else if slices.Index(uris, u) != i {
			errs = append(errs, invalid(field, "%q is named twice", u))
		}
	}
	return errs
}

// CheckRedirectURI says why raw may not be registered as a redirect URI,
// nil when it may: it must be absolute, https (or http to a loopback
// address or localhost, for native apps and development, RFC 8252 section
// 7.3), without a fragment (RFC 6749 section 3.1.2), user information or
// wildcard. Redirects are matched exactly, character for character.
func CheckRedirectURI(raw string) error {
	if raw == "" || len(raw) > MaxRedirectURI {
		return fmt.Errorf("must be 1 to %d characters", MaxRedirectURI)
	}
	if strings.ContainsAny(raw, "*#") {
		return errors.New("must not contain a wildcard (*) or a fragment (#)")
	}
	if strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return errors.New("must be printable ASCII without spaces")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute URL with a host")
	}
	if u.User != nil {
		return errors.New("must not contain user information")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if loopback(u.Hostname()) {
			return nil
		}
		return errors.New("http is only allowed to a loopback address (127.0.0.1, [::1], localhost); use https")
	}
	return errors.New("must be https (or http to a loopback address)")
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newSecret returns a fresh secret and its hash.
func newSecret() (secret string, hash []byte) {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	secret = SecretPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, hashSecret(secret)
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// secretMatches compares secret with c's in constant time. Secrets are
// random (newSecret), so a fast hash is enough to keep them unreadable.
func secretMatches(c Client, secret string) bool {
	if len(c.SecretHash) != sha256.Size {
		return false
	}
	return subtle.ConstantTimeCompare(hashSecret(secret), c.SecretHash) == 1
}

// newID returns a fresh client id: 26 base32 characters.
func newID() string { return rand.Text() }
