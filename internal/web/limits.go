package web

import (
	"context"
	"net/http"

	"github.com/usersvc/usersvc/internal/clientip"
	"github.com/usersvc/usersvc/internal/ratelimit"
	"github.com/usersvc/usersvc/internal/user"
)

// allow counts r against rule per client address, under the key the API
// counts by (clientip.Key): a refusal is ratelimit's error (ErrRateLimited).
func (p *Pages) allow(r *http.Request, rule ratelimit.Rule) error {
	l := p.opts.Limits.Limiter
	if l == nil || !rule.On() {
		return nil
	}
	if res := l.Allow(r.Context(), rule, clientip.Key(p.clientIP.IP(r))); !res.Allowed {
		return ratelimit.Exceeded(res)
	}
	return nil
}

// client is r's context telling the service who is calling, as the API's
// withClient does: the sessions list shows the browser and its address.
func (p *Pages) client(r *http.Request) context.Context {
	return user.WithClient(r.Context(), user.Client{UserAgent: r.UserAgent(), IP: p.clientIP.IP(r).String()})
}
