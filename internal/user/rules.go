package user

import (
	"maps"
	"slices"
)

// Code names one validation rule of this package, stably: the pages key
// their text on it, so a reworded Message changes no page.
type Code string

// The validation rules. Their English messages, for the JSON API, are
// rules'; the arguments they take are the fmt verbs of those messages,
// in order.
const (
	CodeRequired          Code = "required"
	CodeNotUTF8           Code = "not_utf8"
	CodeEmailTooLong      Code = "email_too_long"
	CodeEmailCharacters   Code = "email_characters"
	CodeEmailMalformed    Code = "email_malformed"
	CodeEmailDomain       Code = "email_domain"
	CodeUsernameLength    Code = "username_length"
	CodeUsernameChars     Code = "username_characters"
	CodePasswordTooShort  Code = "password_too_short"
	CodePasswordTooLong   Code = "password_too_long"
	CodePasswordIdentity  Code = "password_identity"
	CodePasswordBreached  Code = "password_breached"
	CodePasswordUnchanged Code = "password_unchanged"
	CodeNameTooLong       Code = "name_too_long"
	CodeNameCharacters    Code = "name_characters"
	CodeRoleUnknown       Code = "role_unknown"
	CodeCursor            Code = "cursor"
	CodeLimitRange        Code = "limit_range"
	CodeFilterText        Code = "filter_text"
	CodeOtherEmail        Code = "other_email"
	CodeOtherUsername     Code = "other_username"
	CodeJobState          Code = "job_state"
	CodeDateRequired      Code = "date_required"
	CodeDateFuture        Code = "date_future"
	CodeEventKind         Code = "event_kind"
)

// rules is the English message of every Code, as the JSON API says it
// (after the field's name): the one list of the rules.
//
//nolint:gosec // G101: rule messages about passwords, no credential
var rules = map[Code]string{
	CodeRequired:          "is required",
	CodeNotUTF8:           "must be valid UTF-8",
	CodeEmailTooLong:      "must be at most %d characters",
	CodeEmailCharacters:   "must contain only printable ASCII characters and no spaces",
	CodeEmailMalformed:    "is not a valid email address",
	CodeEmailDomain:       "must have a domain name such as example.com",
	CodeUsernameLength:    "must be %d to %d characters",
	CodeUsernameChars:     "may contain only letters, digits, '_', '.' and '-'",
	CodePasswordTooShort:  "must be at least %d characters",
	CodePasswordTooLong:   "must be at most %d bytes",
	CodePasswordIdentity:  "must not be the same as your email or username",
	CodePasswordBreached:  "is too common: it appears in lists of breached passwords; choose a less predictable one (several unrelated words work well)",
	CodePasswordUnchanged: "must differ from the current password",
	CodeNameTooLong:       "must be at most %d characters",
	CodeNameCharacters:    "must not contain control, format (such as bidi overrides or zero-width characters) or line separator characters",
	CodeRoleUnknown:       "must be one of %s",
	CodeCursor:            "is not a cursor from a previous page",
	CodeLimitRange:        "must be between 1 and %d",
	CodeFilterText:        "must be at most %d bytes of text without control characters",
	CodeOtherEmail:        "the user %q has another email",
	CodeOtherUsername:     "the user with this email is %q",
	CodeJobState:          "must be one of %v",
	CodeDateRequired:      "a date is required",
	CodeDateFuture:        "%s is in the future (now is %s): only past events can be removed",
	CodeEventKind:         "unknown event kind %q",
}

// Codes is every Code a rule of this package can give, sorted: whoever
// shows its own text for them (the pages' catalogue) checks it has one
// for each.
func Codes() []Code { return slices.Sorted(maps.Keys(rules)) }

// Message is the English message of c, with the fmt verbs its
// arguments fill; "" for a code of no rule.
func (c Code) Message() string { return rules[c] }
