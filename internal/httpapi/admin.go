package httpapi

import (
	"context"
	"encoding/json"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// The administration API: every route is behind a.admin, and the service
// checks the role again.

type adminListInput struct {
	EmailPrefix    string  `query:"email_prefix" maxLength:"254" doc:"Only users whose email starts with this, ignoring letter case (every character literal)"`
	UsernamePrefix string  `query:"username_prefix" maxLength:"254" doc:"Only users whose username starts with this, ignoring letter case (every character literal)"`
	Search         string  `query:"search" maxLength:"254" doc:"Only users whose email, username or full name contains this, ignoring the case of ASCII letters (every character literal). Shorter than 3 characters, it matches the start of the email, username or full name instead"`
	IsActive       string  `query:"is_active" enum:"true,false" doc:"Only active (true) or inactive (false) users"`
	Role           string  `query:"role" enum:"user,admin" doc:"Only users with this role"`
	CreatedAfter   instant `query:"created_after" doc:"Only users created after this instant (RFC 3339 date-time, exclusive)"`
	CreatedBefore  instant `query:"created_before" doc:"Only users created before this instant (RFC 3339 date-time, exclusive)"`
	Limit          int     `query:"limit" minimum:"1" maximum:"100" default:"50" doc:"Users per page"`
	Cursor         string  `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page; absent for the first page"`
}

// userList is one page of users, oldest first.
type userList struct {
	Items      []userRead `json:"items"`
	NextCursor *string    `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page. Paging is stable: users added or removed meanwhile never make another user appear twice or be skipped"`
}

type userListOutput struct{ Body userList }

type adminUserInput struct {
	ID string `path:"id" format:"uuid" doc:"The user's id"`
}

// adminUserUpdate is a partial update by an administrator: an absent field
// is kept; none may be null.
type adminUserUpdate struct {
	FullName *string `json:"full_name,omitempty" maxLength:"255" doc:"An empty string clears it"`
	Email    *string `json:"email,omitempty" format:"email" maxLength:"254" doc:"A new address is no longer verified. Changing it needs a password login of the administrator's session within USERSVC_REAUTH_WINDOW (else 403 reauthentication_required: POST /reauthenticate, then retry); a service account may not change an administrator's"`
	IsActive *bool   `json:"is_active,omitempty" doc:"false deactivates the account and ends all its sessions"`
	Role     *string `json:"role,omitempty" enum:"user,admin" doc:"Changing it needs a password login of the administrator's session within USERSVC_REAUTH_WINDOW (else 403 reauthentication_required); a service account may change no role"`

	nulls []string // the members sent as null, refused by Resolve
}

// UnmarshalJSON reads the update and notes the members sent as null.
func (u *adminUserUpdate) UnmarshalJSON(b []byte) error {
	type plain adminUserUpdate
	if err := json.Unmarshal(b, (*plain)(u)); err != nil {
		return err
	}
	u.nulls = nulls(b)
	return nil
}

// Resolve refuses null members: the schema does not allow them, and a
// null would otherwise silently mean "keep".
func (u *adminUserUpdate) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	return nullErrors(prefix, u.nulls)
}

type adminUpdateInput struct {
	ID   string `path:"id" format:"uuid" doc:"The user's id"`
	Body adminUserUpdate
}

func (a *api) listUsers(ctx context.Context, in *adminListInput) (*userListOutput, error) {
	me, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	f := user.Filter{
		EmailPrefix: in.EmailPrefix, UsernamePrefix: in.UsernamePrefix, Search: in.Search,
		CreatedAfter: in.CreatedAfter.Time(), CreatedBefore: in.CreatedBefore.Time(),
	}
	if in.IsActive != "" {
		active := in.IsActive == "true"
		f.IsActive = &active
	}
	if in.Role != "" {
		role := user.Role(in.Role)
		f.Role = &role
	}
	page, err := a.users.ListUsers(ctx, me, f, user.Page{Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return nil, a.queryProblem(ctx, err)
	}
	out := userList{Items: make([]userRead, len(page.Users))}
	for i, u := range page.Users {
		out.Items[i] = toUserRead(u)
	}
	if page.Next != "" {
		out.NextCursor = &page.Next
	}
	return &userListOutput{Body: out}, nil
}

// adminTarget returns the acting administrator (with the session, whose
// authentication time the sensitive changes need) and the id the path
// names. huma has checked the id's format; one that still does not parse
// names no user.
func adminTarget(ctx context.Context, id string) (user.Caller, uuid.UUID, error) {
	me, err := currentCaller(ctx)
	if err != nil {
		return user.Caller{}, uuid.Nil, err
	}
	target, err := uuid.Parse(id)
	if err != nil {
		return user.Caller{}, uuid.Nil, user.ErrNotFound
	}
	return me, target, nil
}

func (a *api) getUser(ctx context.Context, in *adminUserInput) (*userOutput, error) {
	return a.adminPatch(ctx, in.ID, user.Patch{})
}

func (a *api) updateUser(ctx context.Context, in *adminUpdateInput) (*userOutput, error) {
	b := in.Body
	p := user.Patch{FullName: b.FullName, Email: b.Email, IsActive: b.IsActive}
	if b.Role != nil {
		role := user.Role(*b.Role)
		p.Role = &role
	}
	return a.adminPatch(ctx, in.ID, p)
}

func (a *api) deactivateUser(ctx context.Context, in *adminUserInput) (*userOutput, error) {
	return a.adminPatch(ctx, in.ID, user.Patch{IsActive: new(false)})
}

func (a *api) reactivateUser(ctx context.Context, in *adminUserInput) (*userOutput, error) {
	return a.adminPatch(ctx, in.ID, user.Patch{IsActive: new(true)})
}

// adminPatch applies p to the user id names (an empty p reads it) and
// answers the user as it is afterwards.
func (a *api) adminPatch(ctx context.Context, id string, p user.Patch) (*userOutput, error) {
	me, target, err := adminTarget(ctx, id)
	var u user.User
	if err == nil {
		u, err = a.users.AdminUpdate(ctx, me, target, p)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &userOutput{Body: toUserRead(u)}, nil
}

func (a *api) deleteUser(ctx context.Context, in *adminUserInput) (*struct{}, error) {
	me, id, err := adminTarget(ctx, in.ID)
	if err == nil {
		err = a.users.AdminDelete(ctx, me, id)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}
