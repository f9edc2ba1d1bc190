package app

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/user"
)

// passkeyStore is a Store that keeps passkeys: both databases do; a test
// fake may not, and then the service has no passkeys.
type passkeyStore interface {
	Passkeys() passkey.Stores
}

// RelyingParty is the WebAuthn relying party cfg describes: its id is the
// host of USERSVC_PUBLIC_URL and its one origin that URL's origin. Without
// a public URL, development uses localhost and the port of USERSVC_ADDR
// (http://localhost is a secure context in browsers); production has no
// relying party (ok false): passkeys answer 503 until the URL is set. A
// public URL on an IP address has none either (config.Config.NoPasskeys,
// with the warning Load gives).
func RelyingParty(cfg config.Config) (passkey.Config, bool, error) {
	if cfg.NoPasskeys {
		return passkey.Config{}, false, nil
	}
	if cfg.PublicURL == "" {
		if cfg.Env == config.Production {
			return passkey.Config{}, false, nil
		}
		_, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil || port == "" {
			port = "8080"
		}
		origin := "http://localhost"
		if port != "80" {
			origin += ":" + port
		}
		return passkey.Config{RPID: "localhost", Origins: []string{origin}}, true, nil
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil {
		return passkey.Config{}, false, fmt.Errorf("USERSVC_PUBLIC_URL: %w", err)
	}
	return passkey.Config{RPID: u.Hostname(), Origins: []string{u.Scheme + "://" + u.Host}}, true, nil
}

// openPasskeys sets up the relying party over a.db, when it keeps
// passkeys and cfg names one.
func (a *App) openPasskeys(svc *user.Service, log *slog.Logger, now func() time.Time) error {
	ps, ok := a.db.(passkeyStore)
	if !ok || ps.Passkeys().Passkeys == nil {
		return nil
	}
	rp, ok, err := RelyingParty(a.cfg)
	if err != nil || !ok {
		if err == nil && !a.cfg.NoPasskeys { // config's warning said so already
			log.Warn("passkeys need USERSVC_PUBLIC_URL on a domain name (the relying party id and origin): they answer 503 until it is set")
		}
		return err
	}
	p, err := passkey.NewService(passkey.Deps{
		Stores: ps.Passkeys(), Accounts: svc, Audit: a.db.Stores().Audit, Tx: a.db.Stores().Tx, Log: log, Now: now,
	}, rp)
	if err != nil {
		return err
	}
	a.passkeys = p
	a.passkeyFactor.Factor = passkey.NewFactor(p)
	return nil
}

// passkeyFactor is passkeys as a second factor of the user service
// (user.Deps.MFA): the relying party needs the service, so it is made
// after it, and openPasskeys sets it here once, before the App serves.
// Until then, and without a relying party, no account has a passkey
// factor.
type passkeyFactor struct{ passkey.Factor }

// Passkeys is the relying party, nil when there is none.
func (a *App) Passkeys() *passkey.Service { return a.passkeys }
