package app

import (
	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/user"
)

// exportRecords are what other packages keep about an account, which its
// export includes: the passkeys and the OpenID provider's consents and
// grants (named by clients, which may be nil), when the store keeps them.
// They are read from the store whether or not the relying party or the
// provider is configured now: what was kept is owed all the same.
func (a *App) exportRecords(clients oidcop.Clients) user.Records {
	var r user.Records
	if ps, ok := a.db.(passkeyStore); ok && ps.Passkeys().Passkeys != nil {
		r.Passkeys = passkey.NewRecords(ps.Passkeys().Passkeys)
	}
	if st, ok := a.db.(oidcStore); ok {
		r.Apps = oidcop.NewRecords(st.OIDC(), clients)
	}
	return r
}
