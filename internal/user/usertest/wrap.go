package usertest

import (
	"context"

	"github.com/usersvc/usersvc/internal/user"
)

// Wrap returns st with wrap applied to its ports, also to the ports of
// every transaction st.Tx runs: for tests that watch or break a port
// whatever way the service reaches it.
func Wrap(st user.Stores, wrap func(user.Stores) user.Stores) user.Stores {
	out := wrap(st)
	out.Tx = wrappedTx{tx: st.Tx, wrap: wrap}
	return out
}

type wrappedTx struct {
	tx   user.Transactor
	wrap func(user.Stores) user.Stores
}

func (w wrappedTx) Atomic(ctx context.Context, fn func(user.Stores) error) error {
	return w.tx.Atomic(ctx, func(in user.Stores) error { return fn(Wrap(in, w.wrap)) })
}

// Unwrap is the Transactor w wraps: a store finds its own transaction
// through it (the passkeys on the accounts' transaction).
func (w wrappedTx) Unwrap() user.Transactor { return w.tx }
