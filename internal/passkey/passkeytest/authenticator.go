package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator is a software WebAuthn authenticator for tests: one
// discoverable ES256 credential, "none" attestation, user presence and
// verification given (unless Unverified). It answers the JSON options of
// the API the way a browser's navigator.credentials would, as the
// credential's toJSON(). It is not safe for concurrent use.
type Authenticator struct {
	// Origin is the origin the "browser" reports in the client data.
	Origin string
	// RPID, when set, is the relying party id whose hash goes into the
	// authenticator data instead of the registration options' rp.id.
	RPID string
	// BackupEligible makes the credential a synced passkey (BE and BS
	// flags set).
	BackupEligible bool
	// Counter is the signature counter the next assertion reports after
	// incrementing it; a test sets it back to play a cloned authenticator.
	Counter uint32
	// Reuse makes Create, once there is a credential, offer the same one
	// again (with the new options' user) instead of making another.
	Reuse bool
	// Unverified leaves the UV flag out: user presence only (a security
	// key without a PIN, or a PIN not asked for).
	Unverified bool

	key        *ecdsa.PrivateKey
	id         []byte
	userHandle []byte
	rpID       string
}

// NewAuthenticator returns an authenticator without a credential that
// answers for origin.
func NewAuthenticator(origin string) *Authenticator {
	return &Authenticator{Origin: origin}
}

// CredentialID is the credential's id, nil before Create.
func (a *Authenticator) CredentialID() []byte { return a.id }

var b64 = base64.RawURLEncoding

// The authenticator data flags.
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

func (a *Authenticator) flags() byte {
	f := byte(flagUP | flagUV)
	if a.Unverified {
		f &^= flagUV
	}
	if a.BackupEligible {
		f |= flagBE | flagBS
	}
	return f
}

// Create makes the credential for publicKey, the options' publicKey member
// (as the API's public_key), and returns the attestation response.
func (a *Authenticator) Create(publicKey map[string]any) (map[string]any, error) {
	challenge, _ := publicKey["challenge"].(string)
	rp, _ := publicKey["rp"].(map[string]any)
	usr, _ := publicKey["user"].(map[string]any)
	uid, _ := usr["id"].(string)
	handle, err := b64.DecodeString(uid)
	if challenge == "" || err != nil {
		return nil, errors.New("passkeytest: options without a challenge or user id")
	}
	a.rpID, _ = rp["id"].(string)
	if a.key == nil || !a.Reuse {
		if a.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
		a.id = make([]byte, 16)
		_, _ = rand.Read(a.id)
	}
	a.userHandle = handle
	x, y := a.key.X.FillBytes(make([]byte, 32)), a.key.Y.FillBytes(make([]byte, 32)) //nolint:staticcheck // raw coordinates for the COSE key
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		return nil, err
	}
	auth := a.authData(a.flags() | flagAT)
	auth = append(auth, make([]byte, 16)...)                      // AAGUID: none
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(a.id))) // #nosec G115 -- a credential id of 32 bytes
	auth = append(auth, a.id...)
	auth = append(auth, cose...)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": auth})
	if err != nil {
		return nil, err
	}
	client := a.clientData("webauthn.create", challenge)
	return map[string]any{
		"id": b64.EncodeToString(a.id), "rawId": b64.EncodeToString(a.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON": b64.EncodeToString(client), "attestationObject": b64.EncodeToString(att),
			"transports": []string{"internal"},
		},
		"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform",
	}, nil
}

// Get signs publicKey's challenge (the request options' publicKey member)
// with the credential and returns the assertion response.
func (a *Authenticator) Get(publicKey map[string]any) (map[string]any, error) {
	if a.key == nil {
		return nil, errors.New("passkeytest: no credential: Create first")
	}
	challenge, _ := publicKey["challenge"].(string)
	if challenge == "" {
		return nil, errors.New("passkeytest: options without a challenge")
	}
	a.Counter++
	auth := a.authData(a.flags())
	client := a.clientData("webauthn.get", challenge)
	sum := sha256.Sum256(client)
	digest := sha256.Sum256(append(append([]byte{}, auth...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"id": b64.EncodeToString(a.id), "rawId": b64.EncodeToString(a.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON": b64.EncodeToString(client), "authenticatorData": b64.EncodeToString(auth),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(a.userHandle),
		},
		"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform",
	}, nil
}

// authData is the authenticator data's fixed part: the relying party id's
// hash, flags and the counter.
func (a *Authenticator) authData(flags byte) []byte {
	id := a.rpID
	if a.RPID != "" {
		id = a.RPID
	}
	h := sha256.Sum256([]byte(id))
	out := append(h[:], flags)
	return binary.BigEndian.AppendUint32(out, a.Counter)
}

// clientData is the client data JSON a browser would make.
func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	if err != nil {
		panic(fmt.Sprintf("passkeytest: client data: %v", err))
	}
	return b
}
