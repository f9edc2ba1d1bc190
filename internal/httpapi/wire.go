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
	Email    *string `json:"email,omitempty" nullable:"true" format:"email" maxLength:"254" doc:"Changing it needs a password login of this session within USERSVC_REAUTH_WINDOW, or current_password (else 403 reauthentication_required); the previous address is mailed a link that undoes the change"`
	// CurrentPassword re-authenticates the request for an email change.
	CurrentPassword *string `json:"current_password,omitempty" nullable:"true" format:"password" maxLength:"72" doc:"The current password: lets this request change the email when the session's login is not recent"`
}

// reauthentication is the body of POST /reauthenticate.
type reauthentication struct {
	Password string `json:"password" format:"password" minLength:"1" maxLength:"72" doc:"The current password"`
}

type reauthInput struct{ Body reauthentication }

type passwordUpdate struct {
	CurrentPassword string `json:"current_password" format:"password" maxLength:"72"`
	NewPassword     string `json:"new_password" format:"password" minLength:"8" maxLength:"72" doc:"8 characters to 72 bytes"`
}

// userRead is the public face of a user.User: never a hash, never the
// token version.
type userRead struct {
	ID            string    `json:"id" format:"uuid"`
	Email         string    `json:"email" format:"email"`
	Username      string    `json:"username"`
	FullName      *string   `json:"full_name" doc:"null when not given"`
	IsActive      bool      `json:"is_active"`
	EmailVerified bool      `json:"email_verified" doc:"true once the user has proved they receive mail at email; changing the email clears it"`
	Role          string    `json:"role" enum:"user,admin" doc:"what the user may do beyond their own account"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func toUserRead(u user.User) userRead {
	r := userRead{
		ID:            u.ID.String(),
		Email:         u.Email,
		Username:      u.Username,
		IsActive:      u.IsActive,
		EmailVerified: u.EmailVerified,
		Role:          string(u.Role),
		CreatedAt:     u.CreatedAt.UTC(),
		UpdatedAt:     u.UpdatedAt.UTC(),
	}
	if u.FullName != "" {
		r.FullName = &u.FullName
	}
	return r
}

type token struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type" enum:"bearer"`
	ExpiresIn    int    `json:"expires_in" doc:"Seconds until the access token expires"`
	RefreshToken string `json:"refresh_token" doc:"Opaque; exchange it at /token with grant_type=refresh_token for a new pair. Single use: each refresh returns a new one"`
	DeviceToken  string `json:"device_token,omitempty" doc:"Password grant only: keep it and send it back as device_token with this device's next logins of the account, which failures from other devices then never lock out"`
}

// formURLEncoded is the media type of the /token body.
const formURLEncoded = "application/x-www-form-urlencoded"

// Inputs and outputs: what huma reads from a request and writes back.

type registerInput struct{ Body userCreate }

// sessionRead is the public face of a user.Session.
type sessionRead struct {
	ID         string    `json:"id" format:"uuid"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at" doc:"The login or the last refresh"`
	ExpiresAt  time.Time `json:"expires_at" doc:"The session's absolute end; refreshing does not extend it"`
	UserAgent  string    `json:"user_agent" doc:"The User-Agent of the login (at most 255 bytes)"`
	IP         string    `json:"ip" doc:"The client address of the login"`
	Current    bool      `json:"current" doc:"Whether this is the session of the token that asks"`
}

// sessionsOutput is a page of sessions: the body stays the plain array it
// was before paging, and the cursor of the next page travels in a header,
// so that clients that know no paging read the first page as before.
type sessionsOutput struct {
	NextCursor string `header:"Next-Cursor" doc:"Pass as cursor for the next, newer page; absent on the last page"`
	Body       []sessionRead
}

type listSessionsInput struct {
	Cursor string `query:"cursor" maxLength:"64" doc:"The Next-Cursor header of the previous page; any other value is refused (422: is not a cursor from a previous page)"`
	Limit  int    `query:"limit" minimum:"1" maximum:"500" doc:"The most sessions on the page (default 100)"`
}

type logoutInput struct {
	Scope string `query:"scope" enum:"all" doc:"all: end every session of the user, not only the current one"`
}

type sessionIDInput struct {
	ID string `path:"id" format:"uuid" doc:"A session id from GET /users/me/sessions"`
}

type updateInput struct{ Body userUpdate }

type passwordInput struct{ Body passwordUpdate }

type userOutput struct{ Body userRead }

type tokenOutput struct {
	// CacheControl is required on token responses (RFC 6749 section 5.1).
	CacheControl string `header:"Cache-Control"`
	Body         token
}
