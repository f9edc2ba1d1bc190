package web

import (
	"context"
	"net/http"

	"github.com/usersvc/usersvc/internal/clientip"
	"github.com/usersvc/usersvc/internal/ratelimit"
	"github.com/usersvc/usersvc/internal/user"
)

// How a limit counts, as the API's: countAll counts refused requests too,
// so that a client address that keeps hammering stays refused;
// countAdmitted counts only the requests it lets through, for the limits
// keyed by an account or a session, which an intruder with a stolen
// session could otherwise keep refused for the owner by hammering.
const (
	countAll      = false
	countAdmitted = true
)

// count counts r against rule under key: a refusal is ratelimit's error
// (ErrRateLimited). A rule that is off, or no Limiter, allows all.
func (p *Pages) count(r *http.Request, rule ratelimit.Rule, key string, admitted bool) error {
	_, err := p.counted(r, rule, key, admitted)
	return err
}

// counted is count that returns the count too.
func (p *Pages) counted(r *http.Request, rule ratelimit.Rule, key string, admitted bool) (ratelimit.Result, error) {
	l := p.opts.Limits.Limiter
	if l == nil || !rule.On() {
		return ratelimit.Result{}, nil
	}
	decide := l.Allow
	if admitted {
		decide = l.Admit
	}
	res := decide(r.Context(), rule, key)
	if !res.Allowed {
		return res, ratelimit.Exceeded(res)
	}
	return res, nil
}

// allowLogin counts a sign-in step against the Login limit per client
// address, as the API's /token does, and returns the count for
// settleLogin.
func (p *Pages) allowLogin(r *http.Request) (ratelimit.Result, error) {
	return p.counted(r, p.opts.Limits.Login, clientip.Key(p.clientIP.IP(r)), countAll)
}

// settleLogin takes back the count res of a sign-in step whose outcome
// err proves the password or the factor (user.LoginProven), as the API
// does: not what the login limit is for.
func (p *Pages) settleLogin(r *http.Request, res ratelimit.Result, err error) {
	if l := p.opts.Limits.Limiter; l != nil && user.LoginProven(err) {
		l.Refund(r.Context(), res)
	}
}

// allow counts r against rule per client address, under the key the API
// counts by (clientip.Key).
func (p *Pages) allow(r *http.Request, rule ratelimit.Rule) error {
	return p.count(r, rule, clientip.Key(p.clientIP.IP(r)), countAll)
}

// Whose count a write of the account uses besides its client address's,
// as on the API's route that does the same (its routes.go): the
// account's, or the session's on the routes that end sessions or check
// the password, so that an intruder's session uses up its own count.
const (
	perAccount = false
	perSession = true
)

// allowWrite counts a write of c's account: against rule per client
// address, then against WriteAccount per account or per session.
func (p *Pages) allowWrite(r *http.Request, rule ratelimit.Rule, c user.Caller, session bool) error {
	if err := p.allow(r, rule); err != nil {
		return err
	}
	key := ratelimit.AccountKey(c.User.ID)
	if session {
		key = ratelimit.SessionKey(c.Session.ID)
	}
	return p.count(r, p.opts.Limits.WriteAccount, key, countAdmitted)
}

// allowEmailChange counts a change of c's email to email as the API's
// limitEmailChange does: per account (each change tells whether an
// address is taken, and mails the old and the new one), per client
// address as every form that mails, and per new address, from any
// account, so that no one can have the service mail an inbox without
// bound.
func (p *Pages) allowEmailChange(r *http.Request, c user.Caller, email string) error {
	l := p.opts.Limits
	if err := p.count(r, l.EmailChange, ratelimit.AccountKey(c.User.ID), countAdmitted); err != nil {
		return err
	}
	if err := p.allow(r, l.Mail); err != nil {
		return err
	}
	return p.count(r, l.MailRecipient, ratelimit.ChangeRecipientKey(email), countAll)
}

// allowExport counts an export of c's account as the API's does: per
// client address and per account.
func (p *Pages) allowExport(r *http.Request, c user.Caller) error {
	if err := p.allow(r, p.opts.Limits.Export); err != nil {
		return err
	}
	return p.count(r, p.opts.Limits.Export, ratelimit.AccountKey(c.User.ID), countAdmitted)
}

// allowReset counts a password-reset request for email as the API's
// does: per client address and per recipient, from any client, so that
// clients at many addresses cannot flood one inbox. The count is the same
// whether or not an account has the address.
func (p *Pages) allowReset(r *http.Request, email string) error {
	if err := p.allow(r, p.opts.Limits.Mail); err != nil {
		return err
	}
	return p.count(r, p.opts.Limits.MailRecipient, ratelimit.ResetRecipientKey(email), countAll)
}

// client is r's context telling the service who is calling, as the API's
// withClient does: the sessions list shows the browser and its address.
func (p *Pages) client(r *http.Request) context.Context {
	return user.WithClient(r.Context(), user.Client{UserAgent: r.UserAgent(), IP: p.clientIP.IP(r).String()})
}
