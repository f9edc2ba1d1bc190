package user_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/user"
)

// Every rule has its API message, and the error of a rule carries its
// code and arguments beside the message they fill, which the API
// shows unchanged.
func TestValidationErrorsCarryTheirRule(t *testing.T) {
	codes := user.Codes()
	if !slices.IsSorted(codes) || len(codes) < 20 {
		t.Fatalf("Codes() = %v", codes)
	}
	for _, c := range codes {
		if c.Message() == "" {
			t.Errorf("rule %q has no message", c)
		}
	}
	if user.Code("no_such_rule").Message() != "" {
		t.Error("a code of no rule has a message")
	}
	for _, tt := range []struct {
		err     error
		field   string
		code    user.Code
		args    []any
		message string
	}{
		{user.ValidateEmail(""), "email", user.CodeRequired, nil, "is required"},
		{user.ValidateEmail(strings.Repeat("a", 250) + "@x.io"), "email", user.CodeEmailTooLong, []any{user.MaxEmail}, "must be at most 254 characters"},
		{user.ValidateUsername("ab"), "username", user.CodeUsernameLength, []any{user.MinUsername, user.MaxUsername}, "must be 3 to 32 characters"},
		{user.ValidatePassword("new_password", "short"), "new_password", user.CodePasswordTooShort, []any{user.MinPasswordChars}, "must be at least 8 characters"},
		{user.ValidateFullName("a\u202eb"), "full_name", user.CodeNameCharacters, nil, user.CodeNameCharacters.Message()},
	} {
		v, ok := errors.AsType[*user.ValidationError](tt.err)
		if !ok || v.Field != tt.field || v.Code != tt.code || !slices.Equal(v.Args, tt.args) || v.Message != tt.message {
			t.Errorf("%v = %#v; want %s, %s, %v, %q", tt.err, v, tt.field, tt.code, tt.args, tt.message)
		}
	}
}
