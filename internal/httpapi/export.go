package httpapi

import (
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// The parts of the export (userExport) beside the profile, the sessions
// and the events: what other packages keep about the account.

// exportedPasskey is a passkey as the export shows it: what its owner can
// recognise it by. Its public key, credential id and signature counter
// are left out: they tell a person nothing.
type exportedPasskey struct {
	ID         string     `json:"id" format:"uuid"`
	Name       string     `json:"name" doc:"What its owner calls it"`
	Kind       string     `json:"kind" enum:"hwk,swk" doc:"hwk: a key bound to its authenticator; swk: a synced passkey that may live on other devices"`
	AAGUID     *string    `json:"aaguid" format:"uuid" nullable:"true" doc:"The authenticator's model, as it said at registration; null when it gave none"`
	Transports []string   `json:"transports" doc:"How the authenticator said it can be reached (usb, nfc, ble, internal, hybrid)"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at" nullable:"true" doc:"The last sign-in with it; null if never used"`
}

func toExportedPasskey(p user.PasskeyRecord) exportedPasskey {
	e := exportedPasskey{
		ID: p.ID.String(), Name: p.Name, Kind: p.Kind, Transports: p.Transports, CreatedAt: p.CreatedAt.UTC(),
		LastUsedAt: optionalTime(p.LastUsedAt.UTC()),
	}
	if e.Transports == nil {
		e.Transports = []string{}
	}
	if p.AAGUID != "" {
		e.AAGUID = new(p.AAGUID)
	}
	return e
}

// exportedEmailChange is a change of the account's email as the export
// shows it: never the undo link's token or its hash.
type exportedEmailChange struct {
	OldEmail  string     `json:"old_email" doc:"The address before the change: the undo link went there"`
	NewEmail  string     `json:"new_email"`
	ChangedAt time.Time  `json:"changed_at"`
	ExpiresAt time.Time  `json:"expires_at" doc:"Until when the undo link works"`
	UsedAt    *time.Time `json:"used_at" nullable:"true" doc:"When the undo link was used (or used up by another undo); null if never"`
	State     string     `json:"state" enum:"undoable,used,expired" doc:"At exported_at: undoable (the undo link still works), used, or expired"`
}

func toExportedEmailChange(c user.EmailChange, now time.Time) exportedEmailChange {
	return exportedEmailChange{
		OldEmail: c.OldEmail, NewEmail: c.NewEmail, ChangedAt: c.CreatedAt.UTC(), ExpiresAt: c.ExpiresAt.UTC(),
		UsedAt: optionalTime(c.UsedAt.UTC()), State: c.State(now),
	}
}

// exportedLink is a mailed link that still works, as the export shows it:
// what it is for and when it ends, never its token or its hash (the
// export is a file that travels: a live token in it would reset the
// password of whoever reads it).
type exportedLink struct {
	Kind      string    `json:"kind" enum:"verify_email,reset_password" doc:"What the link does: verify the email address, or reset the password"`
	CreatedAt time.Time `json:"created_at" doc:"When it was mailed"`
	ExpiresAt time.Time `json:"expires_at" doc:"Until when it works, unless used first"`
}

func toExportedLink(t user.AccountToken) exportedLink {
	return exportedLink{Kind: string(t.Purpose), CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC()}
}

// exportedConsent is what the account allowed a relying party of the
// OpenID provider.
type exportedConsent struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name" doc:"The client's registered name; empty when it has none or is no longer registered"`
	Scopes     []string  `json:"scopes" doc:"The scopes allowed, remembered so that the consent page is not shown again for them"`
	UpdatedAt  time.Time `json:"updated_at" doc:"When the account last allowed them"`
}

func toExportedConsent(c user.ConsentRecord) exportedConsent {
	return exportedConsent{ClientID: c.ClientID, ClientName: c.ClientName, Scopes: nonNil(c.Scopes), UpdatedAt: c.UpdatedAt.UTC()}
}

// exportedGrant is what one sign-in at the OpenID provider gave a relying
// party: never a token or its hash.
type exportedGrant struct {
	ID         string     `json:"id"`
	ClientID   string     `json:"client_id"`
	ClientName string     `json:"client_name" doc:"The client's registered name; empty when it has none or is no longer registered"`
	Scopes     []string   `json:"scopes" doc:"The scopes its tokens carry"`
	AuthTime   time.Time  `json:"auth_time" doc:"The sign-in it stands on"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at" nullable:"true" doc:"When it was ended (consent taken back, sign-out, password change, reuse of a token); null while live"`
}

func toExportedGrant(g user.GrantRecord) exportedGrant {
	return exportedGrant{
		ID: g.ID, ClientID: g.ClientID, ClientName: g.ClientName, Scopes: nonNil(g.Scopes),
		AuthTime: g.AuthTime.UTC(), CreatedAt: g.CreatedAt.UTC(), RevokedAt: optionalTime(g.RevokedAt.UTC()),
	}
}

// mapEach is f of every element of in, never nil: an empty list is [] in
// the document, not null.
func mapEach[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// nonNil is s, or an empty list for nil.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
