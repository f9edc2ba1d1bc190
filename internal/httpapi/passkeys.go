package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/user"
)

// Passkeys (issue 22): the JSON ceremonies of the WebAuthn relying party
// (internal/passkey) for single-page apps. Each ceremony is two calls:
// options (to pass to navigator.credentials.create or .get, after
// PublicKeyCredential.parseCreationOptionsFromJSON or
// parseRequestOptionsFromJSON) and verify (the credential's toJSON(), with
// the ceremony handle the options came with). A ceremony is kept
// server-side, for five minutes, and is used once.

type passkeyRead struct {
	ID         string     `json:"id" format:"uuid"`
	Name       string     `json:"name" doc:"What its owner calls it"`
	Kind       string     `json:"kind" enum:"hwk,swk" doc:"hwk: a key bound to its authenticator; swk: a synced passkey that may live on other devices (the amr of a sign-in with it)"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty" doc:"The last sign-in with it; absent when never used"`
}

func toPasskeyRead(p passkey.Passkey) passkeyRead {
	r := passkeyRead{ID: p.ID.String(), Name: p.Name, Kind: p.AMR, CreatedAt: p.CreatedAt}
	if !p.LastUsedAt.IsZero() {
		r.LastUsedAt = &p.LastUsedAt
	}
	return r
}

type passkeyOptions struct {
	Ceremony  string         `json:"ceremony" doc:"Send it back with the response to verify: the ceremony's handle, valid once, for five minutes"`
	PublicKey map[string]any `json:"public_key" doc:"The options' publicKey member in the WebAuthn JSON form (binary fields base64url): pass it to PublicKeyCredential.parseCreationOptionsFromJSON (registration) or parseRequestOptionsFromJSON (sign-in)"`
}

type passkeyOptionsOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         passkeyOptions
}

type passkeyRegisterOptionsInput struct {
	Body struct {
		CurrentPassword string `json:"current_password,omitempty" maxLength:"72" doc:"The password, unless this session proved it within the re-authentication window (POST /reauthenticate)"`
	}
}

type passkeyVerifyBody struct {
	Ceremony   string         `json:"ceremony" minLength:"1" maxLength:"128" doc:"The ceremony handle of the options"`
	Credential map[string]any `json:"credential" doc:"The PublicKeyCredential's toJSON()"`
}

type passkeyRegisterVerifyInput struct {
	Body struct {
		Ceremony   string         `json:"ceremony" minLength:"1" maxLength:"128" doc:"The ceremony handle of the options"`
		Credential map[string]any `json:"credential" doc:"The PublicKeyCredential's toJSON() after navigator.credentials.create"`
		Name       string         `json:"name,omitempty" maxLength:"64" doc:"What to call it (default Passkey)"`
	}
}

type passkeyLoginVerifyInput struct{ Body passkeyVerifyBody }

type passkeyOutput struct{ Body passkeyRead }

type passkeysOutput struct{ Body []passkeyRead }

type passkeyIDInput struct {
	ID string `path:"id" format:"uuid" doc:"A passkey id from GET /users/me/passkeys"`
}

type passkeyRenameInput struct {
	ID   string `path:"id" format:"uuid" doc:"A passkey id from GET /users/me/passkeys"`
	Body struct {
		Name string `json:"name" minLength:"1" maxLength:"64" doc:"What to call it"`
	}
}

// passkeys is the relying party, ErrUnavailable when there is none.
func (a *api) passkeyService() (*passkey.Service, error) {
	if a.passkeys == nil {
		return nil, fmt.Errorf("passkeys: %w", user.ErrUnavailable)
	}
	return a.passkeys, nil
}

// toOptions is o on the wire.
func toOptions(o passkey.Options) (*passkeyOptionsOutput, error) {
	var pk map[string]any
	if err := json.Unmarshal(o.PublicKey, &pk); err != nil {
		return nil, fmt.Errorf("passkey options: %w", err)
	}
	return &passkeyOptionsOutput{CacheControl: "no-store", Body: passkeyOptions{Ceremony: o.Ceremony, PublicKey: pk}}, nil
}

// credentialJSON is the credential of a verify body as the library reads it.
func credentialJSON(c map[string]any) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil || len(b) > passkey.MaxResponse {
		return nil, passkey.ErrVerification
	}
	return b, nil
}

func (a *api) passkeyRegisterOptions(ctx context.Context, in *passkeyRegisterOptionsInput) (*passkeyOptionsOutput, error) {
	rp, err := a.passkeyService()
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	me, err := currentCaller(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	o, err := rp.BeginRegistration(ctx, me, in.Body.CurrentPassword)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	out, err := toOptions(o)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return out, nil
}

func (a *api) passkeyRegisterVerify(ctx context.Context, in *passkeyRegisterVerifyInput) (*passkeyOutput, error) {
	rp, err := a.passkeyService()
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	me, err := currentCaller(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	cred, err := credentialJSON(in.Body.Credential)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	p, err := rp.FinishRegistration(ctx, me, in.Body.Ceremony, in.Body.Name, cred)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &passkeyOutput{Body: toPasskeyRead(p)}, nil
}

func (a *api) listPasskeys(ctx context.Context, _ *struct{}) (*passkeysOutput, error) {
	rp, err := a.passkeyService()
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	me, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	keys, err := rp.List(ctx, me.ID)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	out := &passkeysOutput{Body: make([]passkeyRead, 0, len(keys))}
	for _, k := range keys {
		out.Body = append(out.Body, toPasskeyRead(k))
	}
	return out, nil
}

func (a *api) renamePasskey(ctx context.Context, in *passkeyRenameInput) (*passkeyOutput, error) {
	rp, err := a.passkeyService()
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	me, err := currentCaller(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	id, err := uuid.Parse(in.ID)
	if err != nil {
		return nil, a.problem(ctx, passkey.ErrNotFound)
	}
	p, err := rp.Rename(ctx, me, id, in.Body.Name)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &passkeyOutput{Body: toPasskeyRead(p)}, nil
}

func (a *api) removePasskey(ctx context.Context, in *passkeyIDInput) (*struct{}, error) {
	rp, err := a.passkeyService()
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	me, err := currentCaller(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	id, err := uuid.Parse(in.ID)
	if err != nil {
		return nil, a.problem(ctx, passkey.ErrNotFound)
	}
	if err := rp.Remove(ctx, me, id, ""); err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}

func (a *api) passkeyLoginOptions(ctx context.Context, _ *struct{}) (*passkeyOptionsOutput, error) {
	rp, err := a.passkeyService()
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	o, err := rp.BeginLogin(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	out, err := toOptions(o)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return out, nil
}

func (a *api) passkeyLoginVerify(ctx context.Context, in *passkeyLoginVerifyInput) (*tokenOutput, error) {
	rp, err := a.passkeyService()
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	cred, err := credentialJSON(in.Body.Credential)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	t, _, err := rp.FinishLogin(ctx, in.Body.Ceremony, cred)
	a.loginEnded(ctx, err)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &tokenOutput{
		CacheControl: "no-store",
		Body:         token{AccessToken: t.Token, TokenType: "bearer", ExpiresIn: seconds(t.ExpiresIn), RefreshToken: t.RefreshToken},
	}, nil
}

type mfaWebAuthnOptionsInput struct {
	Body struct {
		MFAToken string `json:"mfa_token" minLength:"1" maxLength:"128" doc:"The mfa_token of the 403 mfa_required answer of /token"`
		ClientID string `json:"client_id,omitempty" maxLength:"255" doc:"The client_id the password grant named, if it named one: the mfa_token is bound to it"`
	}
}

// mfaWebAuthnOptions begins the passkey second step of a password login
// that answered mfa_required with the method webauthn: the options for
// navigator.credentials.get, offering the account's passkeys. The client
// then posts the grant urn:usersvc:params:oauth:grant-type:mfa-webauthn
// with the mfa_token, this ceremony and the credential.
func (a *api) mfaWebAuthnOptions(ctx context.Context, in *mfaWebAuthnOptionsInput) (*passkeyOptionsOutput, error) {
	if _, err := a.passkeyService(); err != nil {
		return nil, a.problem(ctx, err)
	}
	ctx = user.WithClientID(ctx, in.Body.ClientID)
	c, err := a.users.ChallengeSecondFactor(ctx, in.Body.MFAToken, passkey.Method)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	out, err := toOptions(passkey.Options{Ceremony: c.Handle, PublicKey: c.Options})
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return out, nil
}
