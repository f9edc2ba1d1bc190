package passkey_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/passkey/passkeytest"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestRecordsNameTheAuthenticator: an account's export shows each
// passkey's authenticator model (AAGUID) and transports from its record;
// an all-zero AAGUID or a record that does not decode names none, and the
// passkey is exported all the same. The public key never leaves.
func TestRecordsNameTheAuthenticator(t *testing.T) {
	st := passkeytest.NewMemory(usertest.NewMemory()).Stores().Passkeys
	owner := uuid.New()
	model := uuid.MustParse("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4")
	named := passkeytest.NewPasskey(owner, 1)
	named.Record = credentialJSON(t, webauthn.Credential{
		PublicKey: []byte("public key"), Transport: []protocol.AuthenticatorTransport{protocol.USB, protocol.NFC},
		Authenticator: webauthn.Authenticator{AAGUID: model[:]},
	})
	zero := passkeytest.NewPasskey(owner, 2)
	zero.Record = credentialJSON(t, webauthn.Credential{Authenticator: webauthn.Authenticator{AAGUID: make([]byte, 16)}})
	broken := passkeytest.NewPasskey(owner, 3)
	broken.Record = []byte("not json")
	for _, p := range []passkey.Passkey{named, zero, broken, passkeytest.NewPasskey(uuid.New(), 4)} {
		if err := st.Create(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := passkey.NewRecords(st).PasskeysOf(t.Context(), owner)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("records: %+v, want the owner's three", got)
	}
	if got[0].AAGUID != model.String() || !slices.Equal(got[0].Transports, []string{"usb", "nfc"}) || got[0].Name != named.Name {
		t.Errorf("named: %+v, want AAGUID %s, transports [usb nfc]", got[0], model)
	}
	for _, r := range got[1:] {
		if r.AAGUID != "" || len(r.Transports) != 0 {
			t.Errorf("%s: AAGUID %q, transports %v; want none", r.Name, r.AAGUID, r.Transports)
		}
	}
}

func credentialJSON(t *testing.T, c webauthn.Credential) []byte {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
