package oauthclient

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

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

// Codes of the registry's validation rules, for pages that say them in
// their own words (user.ValidationError.Code, as package user's rules).
const (
	CodeName             user.Code = "client_name"
	CodeAuthMethod       user.Code = "client_auth_method"
	CodePublicAuthMethod user.Code = "client_public_auth_method"
	CodeGrantUnknown     user.Code = "client_grant_unknown"
	CodeScopeUnknown     user.Code = "client_scope_unknown"
	CodeGrantRequired    user.Code = "client_grant_required"
	CodeCredentialsGrant user.Code = "client_credentials_public"
	CodeRedirectRequired user.Code = "client_redirect_required"
	CodeAdminScope       user.Code = "client_admin_scope"
	CodeURIsTooMany      user.Code = "client_uris_too_many"
	CodeURILength        user.Code = "client_uri_length"
	CodeURIWildcard      user.Code = "client_uri_wildcard"
	CodeURICharacters    user.Code = "client_uri_characters"
	CodeURIAbsolute      user.Code = "client_uri_absolute"
	CodeURIUserInfo      user.Code = "client_uri_userinfo"
	CodeURIHTTP          user.Code = "client_uri_http"
	CodeURIScheme        user.Code = "client_uri_scheme"
)

// rules is the English message of every Code, as the JSON API says it
// (after the field's name); a redirect URI's starts with the URI.
var rules = map[user.Code]string{
	CodeName:             "must be 1 to %d characters, without control or invisible formatting characters",
	CodeAuthMethod:       "must be one of %s",
	CodePublicAuthMethod: "a public client authenticates with none",
	CodeGrantUnknown:     "unknown value %q: must be among %s",
	CodeScopeUnknown:     "unknown value %q: must be among %s",
	CodeGrantRequired:    "must name at least one grant type",
	CodeCredentialsGrant: "client_credentials needs a confidential client (a secret)",
	CodeRedirectRequired: "authorization_code needs at least one redirect URI",
	CodeAdminScope:       "%s is for service accounts: it needs the client_credentials grant",
	CodeURIsTooMany:      "must be at most %d URIs",
	CodeURILength:        uriRule + "must be 1 to %d characters",
	CodeURIWildcard:      uriRule + "must not contain a wildcard (*) or a fragment (#)",
	CodeURICharacters:    uriRule + "must be printable ASCII without spaces",
	CodeURIAbsolute:      uriRule + "must be an absolute URL with a host",
	CodeURIUserInfo:      uriRule + "must not contain user information",
	CodeURIHTTP:          uriRule + "http is only allowed to a loopback address (127.0.0.1, [::1], localhost); use https",
	CodeURIScheme:        uriRule + "must be https (or http to a loopback address)",
}

// uriRule starts the message of a redirect URI's rule: the URI.
const uriRule = "%q: "

// Codes is every Code a rule of this package can give, sorted (see
// user.Codes).
func Codes() []user.Code { return slices.Sorted(maps.Keys(rules)) }

// Message is the English message of c with the verbs its arguments fill,
// "" for a code of no rule of this package.
func Message(c user.Code) string { return rules[c] }

// invalid is the ValidationError of rule code on field, its message
// filled with args.
func invalid(field string, code user.Code, args ...any) error {
	return &user.ValidationError{Field: field, Message: fmt.Sprintf(rules[code], args...), Code: code, Args: args}
}

// dedupe drops repeated values of c's lists (a value named twice means
// it once).
func dedupe(c *Client) {
	for _, l := range []*[]string{&c.RedirectURIs, &c.PostLogoutRedirectURIs, &c.Grants, &c.Scopes} {
		out := make([]string, 0, len(*l))
		for _, v := range *l {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		*l = out
	}
}

// validate checks c's fields and how they fit together.
func validate(c Client) error {
	var errs []error
	if n := strings.TrimSpace(c.Name); n == "" || utf8.RuneCountInString(c.Name) > MaxName || !user.Readable(c.Name) {
		errs = append(errs, invalid("name", CodeName, MaxName))
	}
	if !slices.Contains(AuthMethods, c.AuthMethod) {
		errs = append(errs, invalid("token_endpoint_auth_method", CodeAuthMethod, strings.Join(AuthMethods, ", ")))
	}
	errs = append(errs, checkList("grant_types", CodeGrantUnknown, c.Grants, Grants)...)
	errs = append(errs, checkList("scopes", CodeScopeUnknown, c.Scopes, Scopes)...)
	if len(c.Grants) == 0 {
		errs = append(errs, invalid("grant_types", CodeGrantRequired))
	}
	if c.Public() && c.Allows(GrantClientCredentials) {
		errs = append(errs, invalid("grant_types", CodeCredentialsGrant))
	}
	if c.Allows(GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		errs = append(errs, invalid("redirect_uris", CodeRedirectRequired))
	}
	for _, s := range AdminScopes {
		if c.AllowsScope(s) && !c.Allows(GrantClientCredentials) {
			errs = append(errs, invalid("scopes", CodeAdminScope, s))
		}
	}
	errs = append(errs, checkURIs("redirect_uris", c.RedirectURIs)...)
	errs = append(errs, checkURIs("post_logout_redirect_uris", c.PostLogoutRedirectURIs)...)
	return errors.Join(errs...)
}

// checkList checks that every value is one of known, once.
func checkList(field string, code user.Code, values, known []string) []error {
	var errs []error
	for i, v := range values {
		if !slices.Contains(known, v) && slices.Index(values, v) == i {
			errs = append(errs, invalid(field, code, v, strings.Join(known, " ")))
		}
	}
	return errs
}

func checkURIs(field string, uris []string) []error {
	if len(uris) > MaxRedirectURIs {
		return []error{invalid(field, CodeURIsTooMany, MaxRedirectURIs)}
	}
	var errs []error
	for i, u := range uris {
		if code, args := redirectURIProblem(u); code != "" && slices.Index(uris, u) == i {
			errs = append(errs, invalid(field, code, append([]any{u}, args...)...))
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
	if code, args := redirectURIProblem(raw); code != "" {
		return fmt.Errorf(strings.TrimPrefix(rules[code], uriRule), args...) //nolint:govet // this package's own formats
	}
	return nil
}

// redirectURIProblem is the rule raw breaks as a redirect URI (see
// CheckRedirectURI) and the arguments of its reason, "" when none.
func redirectURIProblem(raw string) (user.Code, []any) {
	if raw == "" || len(raw) > MaxRedirectURI {
		return CodeURILength, []any{MaxRedirectURI}
	}
	if strings.ContainsAny(raw, "*#") {
		return CodeURIWildcard, nil
	}
	if strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return CodeURICharacters, nil
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return CodeURIAbsolute, nil
	}
	if u.User != nil {
		return CodeURIUserInfo, nil
	}
	switch u.Scheme {
	case "https":
		return "", nil
	case "http":
		if loopback(u.Hostname()) {
			return "", nil
		}
		return CodeURIHTTP, nil
	}
	return CodeURIScheme, nil
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
