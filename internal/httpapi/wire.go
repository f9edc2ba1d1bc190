package httpapi

import (
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// The request and response bodies. Their Go names become the OpenAPI schema
// names of the design (UserCreate, UserRead...). The tags document and
// check the shape; user.Service checks the finer rules (a bare address, the
// 72-byte password limit) and answers *user.ValidationError.

type userCreate struct {
	Email    string `json:"email" format:"email" maxLength:"254" example:"ada@example.com"`
	Username string `json:"username" minLength:"3" maxLength:"32" pattern:"^[A-Za-z0-9_.-]+$" patternDescription:"letters, digits, '_', '.' and '-'" example:"ada"`
	Password string `json:"password" format:"password" minLength:"8" maxLength:"72" doc:"8 characters to 72 bytes"`
}

// userUpdate is a partial update: an absent or null field is kept, and an
// empty full_name clears it.
type userUpdate struct {
	FullName *string `json:"full_name,omitempty" nullable:"true" maxLength:"255" doc:"An empty string clears it"`
	Email    *string `json:"email,omitempty" nullable:"true" format:"email" maxLength:"254"`
}

type passwordUpdate struct {
	CurrentPassword string `json:"current_password" format:"password" maxLength:"72"`
	NewPassword     string `json:"new_password" format:"password" minLength:"8" maxLength:"72" doc:"8 characters to 72 bytes"`
}

// userRead is the public face of a user.User: never a hash, never the
// token version.
type userRead struct {
	ID        string    `json:"id" format:"uuid"`
	Email     string    `json:"email" format:"email"`
	Username  string    `json:"username"`
	FullName  *string   `json:"full_name" doc:"null when not given"`
	IsActive  bool      `json:"is_active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toUserRead(u user.User) userRead {
	r := userRead{
		ID:        u.ID.String(),
		Email:     u.Email,
		Username:  u.Username,
		IsActive:  u.IsActive,
		CreatedAt: u.CreatedAt.UTC(),
		UpdatedAt: u.UpdatedAt.UTC(),
	}
	if u.FullName != "" {
		r.FullName = &u.FullName
	}
	return r
}

type token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type" enum:"bearer"`
}

// formURLEncoded is the media type of the /token body.
const formURLEncoded = "application/x-www-form-urlencoded"

// tokenForm documents the /token body (OAuth2's password grant); loginForm
// reads it.
type tokenForm struct {
	Username  string `json:"username" doc:"The username or the email address"`
	Password  string `json:"password" format:"password"`
	GrantType string `json:"grant_type,omitempty" enum:"password" doc:"Sent by OAuth2 clients; must be password when given"`
	Scope     string `json:"scope,omitempty" doc:"Sent by OAuth2 clients; ignored"`
}

// Inputs and outputs: what huma reads from a request and writes back.

type registerInput struct{ Body userCreate }

type loginInput struct {
	ContentType string `header:"Content-Type" hidden:"true"`
	RawBody     []byte `contentType:"application/x-www-form-urlencoded"`
	// Authorization, when it holds a valid token of the account logging
	// in, lets the login through that account's lockout.
	Authorization string `header:"Authorization" hidden:"true"`
}

type updateInput struct{ Body userUpdate }

type passwordInput struct{ Body passwordUpdate }

type userOutput struct{ Body userRead }

type tokenOutput struct {
	// CacheControl is required on token responses (RFC 6749 section 5.1).
	CacheControl string `header:"Cache-Control"`
	Body         token
}
