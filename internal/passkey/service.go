package passkey

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// The audit events of passkeys, recorded in the service's audit log.
const (
	AuditRegistered     user.AuditKind = "passkey.registered"
	AuditRenamed        user.AuditKind = "passkey.renamed"
	AuditRemoved        user.AuditKind = "passkey.removed"
	AuditLoginFailed    user.AuditKind = "passkey.login_failed"
	AuditCloneSuspected user.AuditKind = "passkey.clone_suspected"
	// AuditSecondFactor is a passkey used as the second factor of a
	// password login.
	AuditSecondFactor user.AuditKind = "mfa.webauthn_verified"
)

// AuditKinds lists the audit events of this package.
var AuditKinds = []user.AuditKind{
	AuditRegistered, AuditRenamed, AuditRemoved, AuditLoginFailed, AuditCloneSuspected, AuditSecondFactor,
}

// Accounts is what the relying party needs of the account service
// (user.Service).
type Accounts interface {
	// Account returns the account id; user.ErrNotFound when it is gone.
	Account(ctx context.Context, id uuid.UUID) (user.User, error)
	// RequireRecentAuthentication allows a sensitive change by c.
	RequireRecentAuthentication(ctx context.Context, c user.Caller, currentPassword string) error
	// LoginWithFactor opens a session for id proved without a password.
	LoginWithFactor(ctx context.Context, id uuid.UUID, method string, a user.Assurance) (user.AccessToken, error)
	// SecondFactorRemoved runs remove, which removes one of c's factors
	// of method, and in the same transaction does what removing a factor
	// does beyond that: the owner told, the recovery codes gone with the
	// last factor (and user.mfa_disabled).
	SecondFactorRemoved(ctx context.Context, c user.Caller, method string, remove func(tx user.Stores) error) error
	// PasskeyAdded runs add, which stores c's passkey, and in the same
	// transaction does what giving c a passkey does beyond storing it:
	// the owner told and, for the account's first second factor,
	// user.mfa_enabled.
	PasskeyAdded(ctx context.Context, c user.Caller, add func(tx user.Stores) error) error
}

// Config is the relying party.
type Config struct {
	// RPID is the relying party id: the host of the public URL
	// ("localhost" in development).
	RPID string
	// Origins are the origins ceremonies may come from (the public URL's).
	Origins []string
	// DisplayName is the name authenticators show ("usersvc").
	DisplayName string
	// CeremonyTTL is how long a begun ceremony may be finished; zero:
	// DefaultCeremonyTTL.
	CeremonyTTL time.Duration
}

// Deps are the relying party's collaborators.
type Deps struct {
	Stores   Stores
	Accounts Accounts
	Audit    user.AuditLog // nil: nothing recorded
	// Tx is the accounts' Transactor (user.Stores.Tx) of the database of
	// Stores: a rename is one transaction with its audit event. Nil (or
	// Stores.In nil): the event is appended after the rename.
	Tx  user.Transactor
	Log *slog.Logger // nil: discarded
	Now func() time.Time
}

// Service is the relying party.
type Service struct {
	wa       *webauthn.WebAuthn
	passkeys Store
	in       func(user.Stores) (Store, error) // Stores.In
	tx       user.Transactor
	cer      Ceremonies
	accounts Accounts
	audit    user.AuditLog
	log      *slog.Logger
	now      func() time.Time
	ttl      time.Duration
}

// NewService returns the relying party cfg over d.
func NewService(d Deps, cfg Config) (*Service, error) {
	if cfg.DisplayName == "" {
		cfg.DisplayName = "usersvc"
	}
	if cfg.CeremonyTTL <= 0 {
		cfg.CeremonyTTL = DefaultCeremonyTTL
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID: cfg.RPID, RPDisplayName: cfg.DisplayName, RPOrigins: cfg.Origins,
		// Expiry is the ceremony store's, on the service's clock.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: cfg.CeremonyTTL, TimeoutUVD: cfg.CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: cfg.CeremonyTTL, TimeoutUVD: cfg.CeremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey relying party: %w", err)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		wa: wa, passkeys: d.Stores.Passkeys, in: d.Stores.In, tx: d.Tx, cer: d.Stores.Ceremonies, accounts: d.Accounts,
		audit: d.Audit, log: d.Log, now: d.Now, ttl: cfg.CeremonyTTL,
	}, nil
}

// Options are what the browser passes to navigator.credentials.create or
// .get (PublicKey, the library's JSON of the options' publicKey member),
// and the handle of the ceremony to send back with the response.
type Options struct {
	Ceremony  string
	PublicKey json.RawMessage
}

// account is a user as the library sees it.
type account struct {
	u     user.User
	creds []webauthn.Credential
}

func (a account) WebAuthnID() []byte { return a.u.ID[:] }
func (a account) WebAuthnName() string {
	return a.u.Username
}

func (a account) WebAuthnDisplayName() string {
	if a.u.FullName != "" {
		return a.u.FullName
	}
	return a.u.Username
}
func (a account) WebAuthnCredentials() []webauthn.Credential { return a.creds }

// clock is the service's time, UTC at microsecond precision.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// accountOf returns id's account with its passkeys as credentials.
func (s *Service) accountOf(ctx context.Context, id uuid.UUID) (account, []Passkey, error) {
	u, err := s.accounts.Account(ctx, id)
	if err != nil {
		return account{}, nil, err
	}
	keys, err := s.passkeys.ByUser(ctx, id)
	if err != nil {
		return account{}, nil, err
	}
	a := account{u: u}
	for _, k := range keys {
		c, err := credentialOf(k)
		if err != nil {
			return account{}, nil, err
		}
		a.creds = append(a.creds, c)
	}
	return a, keys, nil
}

// credentialOf decodes p's record.
func credentialOf(p Passkey) (webauthn.Credential, error) {
	var c webauthn.Credential
	if err := json.Unmarshal(p.Record, &c); err != nil {
		return webauthn.Credential{}, fmt.Errorf("passkey %s: record: %w", p.ID, err)
	}
	return c, nil
}

// begin stores a ceremony of kind for userID and sessionID with the
// library's session data, and returns its options.
func (s *Service) begin(ctx context.Context, kind string, userID, sessionID uuid.UUID, publicKey any, data *webauthn.SessionData) (Options, error) {
	pk, err := json.Marshal(publicKey)
	if err != nil {
		return Options{}, fmt.Errorf("passkey options: %w", err)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return Options{}, fmt.Errorf("passkey ceremony: %w", err)
	}
	handle := rand.Text()
	now := s.clock()
	c := Ceremony{Hash: hashHandle(handle), Kind: kind, UserID: userID, SessionID: sessionID, Data: raw, ExpiresAt: now.Add(s.ttl)}
	if err := s.cer.Put(ctx, c, now); err != nil {
		return Options{}, err
	}
	return Options{Ceremony: handle, PublicKey: pk}, nil
}

// take uses up the ceremony handle, which must be of kind and for userID
// and sessionID, and returns its session data.
func (s *Service) take(ctx context.Context, handle, kind string, userID, sessionID uuid.UUID) (webauthn.SessionData, error) {
	if handle == "" || len(handle) > 128 {
		return webauthn.SessionData{}, ErrCeremony
	}
	c, err := s.cer.Take(ctx, hashHandle(handle), s.clock())
	if err != nil {
		return webauthn.SessionData{}, err
	}
	if c.Kind != kind || c.UserID != userID || c.SessionID != sessionID {
		return webauthn.SessionData{}, ErrCeremony
	}
	var data webauthn.SessionData
	if err := json.Unmarshal(c.Data, &data); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("passkey ceremony data: %w", err)
	}
	return data, nil
}

// hashHandle is the stored form of a ceremony handle.
func hashHandle(handle string) []byte {
	h := sha256.Sum256([]byte(handle))
	return h[:]
}

// BeginRegistration starts adding a passkey to c's account: a sensitive
// change, so c's session must have proved the password recently (or
// currentPassword is it). The passkey is discoverable (usernameless
// sign-in) and verifies its user.
func (s *Service) BeginRegistration(ctx context.Context, c user.Caller, currentPassword string) (Options, error) {
	if err := s.accounts.RequireRecentAuthentication(ctx, c, currentPassword); err != nil {
		return Options{}, err
	}
	a, keys, err := s.accountOf(ctx, c.User.ID)
	if err != nil {
		return Options{}, err
	}
	if len(keys) >= MaxPerUser {
		return Options{}, ErrTooMany
	}
	creation, data, err := s.wa.BeginRegistration(a,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		}),
		webauthn.WithExclusions(webauthn.Credentials(a.creds).CredentialDescriptors()),
	)
	if err != nil {
		return Options{}, fmt.Errorf("begin passkey registration: %w", err)
	}
	return s.begin(ctx, KindRegister, c.User.ID, c.Session.ID, creation.Response, data)
}

// FinishRegistration verifies the authenticator's response (the JSON of
// the PublicKeyCredential) to the ceremony handle, begun by the same
// session, and stores the passkey as name ("Passkey" when empty); the
// owner is told (user.Service.PasskeyAdded).
func (s *Service) FinishRegistration(ctx context.Context, c user.Caller, handle, name string, response []byte) (Passkey, error) {
	name, err := cleanName(name, "Passkey")
	if err != nil {
		return Passkey{}, err
	}
	data, err := s.take(ctx, handle, KindRegister, c.User.ID, c.Session.ID)
	if err != nil {
		return Passkey{}, err
	}
	if err := s.accounts.RequireRecentAuthentication(ctx, c, ""); err != nil {
		return Passkey{}, err
	}
	a, keys, err := s.accountOf(ctx, c.User.ID)
	if err != nil {
		return Passkey{}, err
	}
	if len(keys) >= MaxPerUser {
		return Passkey{}, ErrTooMany
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return Passkey{}, s.refused(ctx, err)
	}
	cred, err := s.wa.CreateCredential(a, data, parsed)
	if err != nil {
		return Passkey{}, s.refused(ctx, err)
	}
	record, err := json.Marshal(cred)
	if err != nil {
		return Passkey{}, fmt.Errorf("passkey record: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Passkey{}, fmt.Errorf("passkey id: %w", err)
	}
	p := Passkey{
		ID: id, UserID: c.User.ID, CredentialID: cred.ID, Name: name, Record: record,
		SignCount: int64(cred.Authenticator.SignCount), AMR: amrOf(cred.Flags), CreatedAt: s.clock(),
	}
	if err := s.add(ctx, c, p); err != nil {
		return Passkey{}, err
	}
	return p, nil
}

// add stores c's new passkey p in the transaction of PasskeyAdded, which
// holds the account's lock, with its audit event.
func (s *Service) add(ctx context.Context, c user.Caller, p Passkey) error {
	return s.accounts.PasskeyAdded(ctx, c, func(tx user.Stores) error {
		store, err := s.keysIn(tx)
		if err != nil {
			return err
		}
		// Counted again in the transaction, which holds the account's
		// lock: of two registrations at once, the second sees the first's.
		if held, err := store.ByUser(ctx, c.User.ID); err != nil {
			return err
		} else if len(held) >= MaxPerUser {
			return ErrTooMany
		}
		if err := store.Create(ctx, p); err != nil {
			return err
		}
		return s.recordIn(ctx, tx, AuditRegistered, c.User.ID, c.User.ID, p, nil)
	})
}

// keysIn is the passkeys on the transaction tx (Stores.In), or, when they
// are in none (Stores.In nil), the passkeys.
func (s *Service) keysIn(tx user.Stores) (Store, error) {
	if s.in == nil {
		return s.passkeys, nil
	}
	return s.in(tx)
}

// amrOf is the amr of a credential with flags: a backup-eligible
// credential may live on other devices (a synced passkey), a software key
// as far as the server can tell; any other is bound to its authenticator.
func amrOf(f webauthn.CredentialFlags) string {
	if f.BackupEligible {
		return AMRSoftware
	}
	return AMRHardware
}

// refused logs why the library refused a response (for the operator, not
// the client) and returns ErrVerification.
func (s *Service) refused(ctx context.Context, err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		s.log.InfoContext(ctx, "passkey response refused", "reason", pe.Details, "info", pe.DevInfo)
	} else {
		s.log.InfoContext(ctx, "passkey response refused", "reason", err.Error())
	}
	return ErrVerification
}

// List returns userID's passkeys, oldest first.
func (s *Service) List(ctx context.Context, userID uuid.UUID) ([]Passkey, error) {
	return s.passkeys.ByUser(ctx, userID)
}

// Rename renames c's passkey id, in one transaction with its audit event
// (Deps.Tx).
func (s *Service) Rename(ctx context.Context, c user.Caller, id uuid.UUID, name string) (Passkey, error) {
	name, err := cleanName(name, "")
	if err != nil {
		return Passkey{}, err
	}
	if s.tx == nil || s.in == nil {
		p, err := s.passkeys.Rename(ctx, c.User.ID, id, name)
		if err == nil {
			s.record(ctx, AuditRenamed, c.User.ID, c.User.ID, p, nil)
		}
		return p, err
	}
	var p Passkey
	err = s.tx.Atomic(ctx, func(tx user.Stores) error {
		keys, err := s.keysIn(tx)
		if err != nil {
			return err
		}
		if p, err = keys.Rename(ctx, c.User.ID, id, name); err != nil {
			return err
		}
		return s.recordIn(ctx, tx, AuditRenamed, c.User.ID, c.User.ID, p, nil)
	})
	return p, err
}

// Remove removes c's passkey id: a sensitive change (a stolen session
// must not remove the owner's way back in), so c's session must have
// proved the password recently, or currentPassword is it. The owner is
// told, and with the last factor the recovery codes go
// (user.Service.SecondFactorRemoved), in the removal's transaction.
func (s *Service) Remove(ctx context.Context, c user.Caller, id uuid.UUID, currentPassword string) error {
	if err := s.accounts.RequireRecentAuthentication(ctx, c, currentPassword); err != nil {
		return err
	}
	return s.accounts.SecondFactorRemoved(ctx, c, Method, func(tx user.Stores) error {
		keys, err := s.keysIn(tx)
		if err != nil {
			return err
		}
		if err := keys.Delete(ctx, c.User.ID, id); err != nil {
			return err
		}
		return s.recordIn(ctx, tx, AuditRemoved, c.User.ID, c.User.ID, Passkey{ID: id}, nil)
	})
}

// cleanName trims name; empty gives def, and an empty def or an overlong
// or invalid name is ErrInvalidName.
func cleanName(name, def string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = def
	}
	if name == "" || len(name) > MaxName || !user.Readable(name) {
		return "", ErrInvalidName
	}
	return name, nil
}

// BeginLogin starts a usernameless sign-in: the browser offers the
// passkeys it holds for this relying party.
func (s *Service) BeginLogin(ctx context.Context) (Options, error) {
	assertion, data, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return Options{}, fmt.Errorf("begin passkey login: %w", err)
	}
	return s.begin(ctx, KindLogin, uuid.Nil, uuid.Nil, assertion.Response, data)
}

// FinishLogin verifies the assertion (the JSON of the PublicKeyCredential)
// of the ceremony handle and opens a session for the passkey's account,
// with the tokens of a password login. Every refusal of the response is
// ErrVerification (a passkey whose counter went backwards, suggesting a
// clone, included, and audited).
func (s *Service) FinishLogin(ctx context.Context, handle string, response []byte) (user.AccessToken, []string, error) {
	data, err := s.take(ctx, handle, KindLogin, uuid.Nil, uuid.Nil)
	if err != nil {
		return user.AccessToken{}, nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return user.AccessToken{}, nil, s.refused(ctx, err)
	}
	var key Passkey
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		p, err := s.passkeys.ByCredentialID(ctx, rawID)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p.UserID[:], userHandle) {
			return nil, ErrNotFound
		}
		a, _, err := s.accountOf(ctx, p.UserID)
		if err != nil {
			return nil, err
		}
		key = p
		return a, nil
	}
	_, cred, err := s.wa.ValidatePasskeyLogin(handler, data, parsed)
	if err != nil {
		s.record(ctx, AuditLoginFailed, uuid.Nil, key.UserID, key, map[string]string{"reason": "verification"})
		return user.AccessToken{}, nil, s.refused(ctx, err)
	}
	if err := s.used(ctx, key, cred); err != nil {
		return user.AccessToken{}, nil, err
	}
	// The passkey verified its user (UV required): possession and a PIN
	// or biometric, two factors in one.
	amr := []string{key.AMR, user.AMRMFA}
	t, err := s.accounts.LoginWithFactor(ctx, key.UserID, "passkey", user.Assurance{AMR: amr, ACR: user.ACRMultiFactor})
	if err != nil {
		return user.AccessToken{}, nil, err
	}
	return t, amr, nil
}

// used stores what a verified assertion by key changed (its counter,
// flags, last use), refusing it when the counter says the authenticator
// may be cloned or another sign-in moved the counter meanwhile.
func (s *Service) used(ctx context.Context, key Passkey, cred *webauthn.Credential) error {
	if cred.Authenticator.CloneWarning {
		s.record(ctx, AuditCloneSuspected, uuid.Nil, key.UserID, key, map[string]string{"sign_count": fmt.Sprint(cred.Authenticator.SignCount)})
		return ErrVerification
	}
	record, err := json.Marshal(cred)
	if err != nil {
		return fmt.Errorf("passkey record: %w", err)
	}
	prev := key.SignCount
	key.Record, key.SignCount, key.LastUsedAt = record, int64(cred.Authenticator.SignCount), s.clock()
	if err := s.passkeys.Used(ctx, key, prev); err != nil {
		if errors.Is(err, ErrStale) || errors.Is(err, ErrNotFound) {
			s.record(ctx, AuditLoginFailed, uuid.Nil, key.UserID, key, map[string]string{"reason": "stale"})
			return ErrVerification
		}
		return err
	}
	return nil
}

// BeginSecondFactor starts the passkey check of userID's password login
// (the mfa_required exchange): the browser offers userID's passkeys.
// ErrNotFound when the account has none.
func (s *Service) BeginSecondFactor(ctx context.Context, userID uuid.UUID) (Options, error) {
	a, keys, err := s.accountOf(ctx, userID)
	if err != nil {
		return Options{}, err
	}
	if len(keys) == 0 {
		return Options{}, ErrNotFound
	}
	assertion, data, err := s.wa.BeginLogin(a, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return Options{}, fmt.Errorf("begin passkey check: %w", err)
	}
	return s.begin(ctx, KindSecondFactor, userID, uuid.Nil, assertion.Response, data)
}

// VerifySecondFactor verifies userID's assertion to the ceremony handle
// begun by BeginSecondFactor and returns the amr it stands for.
func (s *Service) VerifySecondFactor(ctx context.Context, userID uuid.UUID, handle string, response []byte) (string, error) {
	data, err := s.take(ctx, handle, KindSecondFactor, userID, uuid.Nil)
	if err != nil {
		return "", err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return "", s.refused(ctx, err)
	}
	a, keys, err := s.accountOf(ctx, userID)
	if err != nil {
		return "", err
	}
	cred, err := s.wa.ValidateLogin(a, data, parsed)
	if err != nil {
		s.record(ctx, AuditLoginFailed, uuid.Nil, userID, Passkey{}, map[string]string{"reason": "verification", "step": "second_factor"})
		return "", s.refused(ctx, err)
	}
	var key Passkey
	for _, k := range keys {
		if bytes.Equal(k.CredentialID, cred.ID) {
			key = k
		}
	}
	if key.ID == uuid.Nil {
		return "", ErrVerification
	}
	if err := s.used(ctx, key, cred); err != nil {
		return "", err
	}
	s.record(ctx, AuditSecondFactor, userID, userID, key, nil)
	return key.AMR, nil
}

// record appends an audit event about passkey p of subject after the
// fact: for what is not a change of passkeys (a failed sign-in, a
// suspected clone, a second step). One that cannot be stored is logged.
func (s *Service) record(ctx context.Context, kind user.AuditKind, actor, subject uuid.UUID, p Passkey, detail map[string]string) {
	if s.audit == nil {
		return
	}
	if err := s.audit.Append(ctx, s.auditEvent(ctx, kind, actor, subject, p, detail)); err != nil {
		s.log.ErrorContext(ctx, "audit event lost: could not append it", "kind", string(kind), "error", err.Error())
	}
}

// recordIn appends an audit event about passkey p of subject in tx, the
// transaction of the change it records: when it cannot be stored, the
// change fails with it. Without an audit log (Deps.Audit) nothing is
// recorded.
func (s *Service) recordIn(ctx context.Context, tx user.Stores, kind user.AuditKind, actor, subject uuid.UUID, p Passkey, detail map[string]string) error {
	if s.audit == nil {
		return nil
	}
	if err := tx.Audit.Append(ctx, s.auditEvent(ctx, kind, actor, subject, p, detail)); err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	return nil
}

// auditEvent is the audit event of kind by actor about passkey p of
// subject, with the request's client.
func (s *Service) auditEvent(ctx context.Context, kind user.AuditKind, actor, subject uuid.UUID, p Passkey, detail map[string]string) user.AuditEvent {
	if detail == nil {
		detail = map[string]string{}
	}
	if p.ID != uuid.Nil {
		detail["passkey_id"] = p.ID.String()
	}
	c := user.ClientFrom(ctx)
	return user.AuditEvent{
		At: s.clock(), Kind: kind, ActorID: actor, SubjectID: subject,
		IP: c.IP, UserAgent: c.UserAgent, RequestID: c.RequestID, Detail: detail,
	}
}

// CredentialIDString returns the passkey's credential id as the browser knows it
// (unpadded base64url).
func (p Passkey) CredentialIDString() string {
	return base64.RawURLEncoding.EncodeToString(p.CredentialID)
}
