package oauthclient

import (
	"context"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// Store keeps clients. A deleted client is kept (its id is never reused)
// but no method but Create sees it: Client, Save and Delete answer
// ErrNotFound for it, List leaves it out.
type Store interface {
	// Create stores c; ErrExists when its id is taken (by a deleted
	// client too).
	Create(ctx context.Context, c Client) error
	// Client returns the client id; ErrNotFound when it is unknown or
	// deleted.
	Client(ctx context.Context, id string) (Client, error)
	// List returns the clients not deleted, oldest first.
	List(ctx context.Context) ([]Client, error)
	// Save replaces the stored client c.ID by c, all but its CreatedAt and
	// DeletedAt; ErrNotFound when it is unknown or deleted.
	Save(ctx context.Context, c Client) error
	// Delete marks the client id deleted at at; ErrNotFound when it is
	// unknown or deleted already.
	Delete(ctx context.Context, id string, at time.Time) error
}

// Transactor puts an administrator's change of a client and its audit
// event in one transaction.
type Transactor interface {
	// Atomic runs fn with a Store and an audit log bound to one
	// transaction: what fn changes through them is committed together
	// when fn returns nil, and none of it when fn returns an error (which
	// Atomic returns).
	Atomic(ctx context.Context, fn func(Store, user.AuditLog) error) error
}
