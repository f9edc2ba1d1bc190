package passkey

import (
	"context"
	"encoding/json"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Records lists an account's passkeys for its export
// (user.PasskeyRecords), straight from the store: a deployment without a
// relying party (no public URL) still holds the passkeys registered
// before, and still owes them to their owner.
type Records struct{ store Store }

// NewRecords returns the records of st.
func NewRecords(st Store) Records { return Records{store: st} }

// PasskeysOf returns userID's passkeys, oldest first, with what their
// records say of the authenticator: its model (AAGUID) and transports.
func (r Records) PasskeysOf(ctx context.Context, userID uuid.UUID) ([]user.PasskeyRecord, error) {
	keys, err := r.store.ByUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]user.PasskeyRecord, len(keys))
	for i, k := range keys {
		out[i] = user.PasskeyRecord{ID: k.ID, Name: k.Name, Kind: k.AMR, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt}
		out[i].AAGUID, out[i].Transports = authenticatorOf(k.Record)
	}
	return out, nil
}

// authenticatorOf is the AAGUID ("" when absent or all zero) and the
// transports a credential record names. A record that does not decode
// names neither: the passkey is exported all the same.
func authenticatorOf(record []byte) (string, []string) {
	var c webauthn.Credential
	if err := json.Unmarshal(record, &c); err != nil {
		return "", nil
	}
	transports := make([]string, len(c.Transport))
	for i, t := range c.Transport {
		transports[i] = string(t)
	}
	id, err := uuid.FromBytes(c.Authenticator.AAGUID)
	if err != nil || id == uuid.Nil {
		return "", transports
	}
	return id.String(), transports
}
