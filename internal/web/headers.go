package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// policy is the pages' Content-Security-Policy: nothing but this
// service's stylesheet and images (and the logo's origin); no script, no
// inline style; forms post only here (or, after a sign-in, redirect to an
// allowed return_to origin); never framed.
func (p *Pages) policy(extra ...string) string {
	img := "'self'"
	if p.opts.LogoOrigin != "" {
		img += " " + p.opts.LogoOrigin
	}
	action := []string{"'self'"}
	for o := range p.origins {
		action = append(action, o)
	}
	for _, o := range extra {
		if o != "" && !slices.Contains(action, o) {
			action = append(action, o)
		}
	}
	slices.Sort(action[1:])
	return fmt.Sprintf("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src %s; form-action %s; frame-ancestors 'none'; base-uri 'none'",
		img, strings.Join(action, " "))
}

// crossOrigin refuses cross-site form posts (Sec-Fetch-Site, else Origin
// against Host), with the public URL's origin trusted for deployments
// whose proxy rewrites Host.
func (p *Pages) crossOrigin() (*http.CrossOriginProtection, error) {
	c := http.NewCrossOriginProtection()
	if u, err := url.Parse(p.opts.PublicURL); err == nil && u.Host != "" {
		if err := c.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, fmt.Errorf("web: USERSVC_PUBLIC_URL as a trusted origin: %w", err)
		}
	}
	c.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.errorPage(w, r, http.StatusForbidden, "error.cross_site")
	}))
	return c, nil
}

// protect sets the pages' security headers and refuses cross-site posts
// before h runs. Pages show personal data, so none is stored by caches
// (the stylesheet sets its own caching).
func (p *Pages) protect(h http.Handler) http.Handler {
	guarded := p.csrf.Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w, p.policyFor(r))
		guarded.ServeHTTP(w, r)
	})
}

// setHeaders sets a page's security headers, with csp as its policy.
func setHeaders(w http.ResponseWriter, csp string) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
}

// policyFor is the policy of r's page: p.csp, with form-action widened to
// the origin where the sign-in's return_to goes on to when it is the
// OpenID provider's sign-in handoff (FlowTarget): the sign-in form's
// answer redirects through the provider to the client's redirect URI, a
// redirect that browsers hold to the form's form-action.
func (p *Pages) policyFor(r *http.Request) string {
	if p.opts.FlowTarget == nil {
		return p.csp
	}
	back := r.URL.Query().Get("return_to")
	if back == "" && r.Method == http.MethodPost {
		back = r.PostFormValue("return_to")
	}
	if back == "" {
		return p.csp
	}
	o := p.opts.FlowTarget(r.Context(), back)
	if o == "" {
		return p.csp
	}
	return p.policy(o)
}
