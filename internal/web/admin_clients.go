package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
)

// The console's OAuth clients (issue 23): the list, a client's page,
// registering one, rotating its secret and deleting it, through the same
// oauthclient.Service as the CLI (usersvc clients) and the admin API, so
// the same rules and audit events. Every change asks for the
// administrator's current password again (reauthenticated, as the
// authenticator app page does). A new secret is shown once, on the page
// the POST that made it redirects to (Post/Redirect/Get, onetime.go):
// never in a URL, never logged, and protect (headers.go) keeps every page
// out of caches (Cache-Control: no-store).

// AdminClients is the client registry as the console uses it
// (oauthclient.Service).
type AdminClients interface {
	List(ctx context.Context, actor user.User) ([]oauthclient.Client, error)
	Get(ctx context.Context, actor user.User, id string) (oauthclient.Client, error)
	Create(ctx context.Context, actor user.User, n oauthclient.NewClient) (oauthclient.Client, string, error)
	Delete(ctx context.Context, actor user.User, id string) error
	RotateSecret(ctx context.Context, actor user.User, id string) (oauthclient.Client, string, error)
}

// clientsPath is the list; a client's page is clientsPath/{id}.
const clientsPath = "/admin/clients"

// adminClientRoutes are the console's client routes (in routes()).
func (p *Pages) adminClientRoutes() []route {
	return []route{
		{"GET /admin/clients", p.admin(p.adminClientsPage)},
		{"GET /admin/clients/new", p.admin(p.newClientPage)},
		{"POST /admin/clients", p.admin(p.createClient)},
		{"GET /admin/clients/{id}", p.admin(p.adminClientPage)},
		{"GET /admin/clients/{id}/secret", p.admin(p.clientSecretPage)}, // a new secret, once (onetime.go)
		{"POST /admin/clients/{id}/rotate-secret", p.admin(p.rotateClientSecret)},
		{"GET /admin/clients/{id}/delete", p.admin(p.deleteClientPage)},
		{"POST /admin/clients/{id}/delete", p.admin(p.deleteClient)},
	}
}

// clientNotices are the ?notice= values of the client pages, and the
// notices a one-time secret's cookie names (onetime.go).
var clientNotices = map[string]string{
	"created": "admin.client.notice.created", "deleted": "admin.client.notice.deleted", "rotated": "admin.client.notice.rotated",
}

// errNoRegistry answers the client pages of a service without a registry.
var errNoRegistry = errors.New("web: the OAuth client registry is unavailable")

func (p *Pages) adminClientsPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	var list []oauthclient.Client
	if p.opts.Clients != nil {
		var err error
		if list, err = p.opts.Clients.List(p.client(r), c.User); err != nil {
			st, _, _ := p.explain(r, err)
			p.errorPage(w, r, st, "error.unavailable")
			return
		}
	}
	var links []link
	if p.opts.Clients != nil {
		links = []link{{Href: clientsPath + "/new", Label: "admin.clients.new"}}
	}
	p.render(w, r, http.StatusOK, view{Page: "admin_clients", Title: "admin.clients.title", Intro: "admin.clients.intro",
		Notice: clientNotices[r.URL.Query().Get("notice")], Clients: list, Links: links, Me: &c.User})
}

// clientForm is the registration form: its text fields, its choices and
// the current password. Error is its form-level message (text).
type clientForm struct {
	Error                                    string
	Name, RedirectURIs, LogoutURIs, Password *field
	Method, Grants, Scopes                   *choices
	FirstParty                               bool
}

// choices is a group of radio buttons or checkboxes (a fieldset): Label
// and Hint are catalogue keys, Error text.
type choices struct {
	Name, Label, Hint, Error string
	Options                  []option
}

// option is one choice: its value, its catalogue label, whether it is
// ticked.
type option struct {
	Value, Label string
	Checked      bool
}

// newClientForm is the empty registration form: a public client, grants
// and scopes left to the defaults (none ticked), as the API and the CLI.
func newClientForm() *clientForm {
	opts := func(values []string, labels ...string) []option {
		out := make([]option, len(values))
		for i, v := range values {
			out[i] = option{Value: v, Label: labels[i]}
		}
		return out
	}
	f := &clientForm{
		Name: &field{Name: "name", Type: "text", Autocomplete: "off", Label: "admin.client.name", Hint: "admin.client.name_hint"},
		RedirectURIs: &field{Name: "redirect_uris", Label: "admin.client.redirect_uris",
			Hint: "admin.client.redirect_uris_hint", Optional: true},
		LogoutURIs: &field{Name: "post_logout_redirect_uris", Label: "admin.client.logout_uris",
			Hint: "admin.client.logout_uris_hint", Optional: true},
		Password: passwordField("admin.client.password_hint"),
		Method: &choices{Name: "token_endpoint_auth_method", Label: "admin.client.kind", Options: opts(oauthclient.AuthMethods,
			"admin.client.kind.public", "admin.client.kind.basic", "admin.client.kind.post")},
		Grants: &choices{Name: "grant_types", Label: "admin.client.grants", Hint: "admin.client.grants_hint", Options: opts(oauthclient.Grants,
			"admin.client.grant.authorization_code", "admin.client.grant.refresh_token",
			"admin.client.grant.client_credentials", "admin.client.grant.password")},
		Scopes: &choices{Name: "scopes", Label: "admin.client.scopes", Hint: "admin.client.scopes_hint", Options: opts(oauthclient.Scopes,
			"admin.client.scope.openid", "admin.client.scope.profile", "admin.client.scope.email",
			"admin.client.scope.offline_access", "admin.client.scope.users_read",
			"admin.client.scope.users_write", "admin.client.scope.audit_read")},
	}
	f.Method.Options[0].Checked = true
	return f
}

// fill puts the posted values back on f (never the password).
func (f *clientForm) fill(r *http.Request) {
	f.Name.Value = r.PostFormValue("name")
	f.RedirectURIs.Value = r.PostFormValue("redirect_uris")
	f.LogoutURIs.Value = r.PostFormValue("post_logout_redirect_uris")
	f.FirstParty = r.PostFormValue("first_party") == "on"
	method := r.PostFormValue("token_endpoint_auth_method")
	for i := range f.Method.Options {
		f.Method.Options[i].Checked = f.Method.Options[i].Value == method
	}
	for _, c := range []*choices{f.Grants, f.Scopes} {
		for i := range c.Options {
			c.Options[i].Checked = slices.Contains(r.PostForm[c.Name], c.Options[i].Value)
		}
	}
}

// newClient is the registration the form asks for: nothing ticked leaves
// the grants or scopes to the defaults (nil), as the API and the CLI.
func (f *clientForm) newClient() oauthclient.NewClient {
	n := oauthclient.NewClient{
		Name: f.Name.Value, RedirectURIs: lines(f.RedirectURIs.Value), PostLogoutRedirectURIs: lines(f.LogoutURIs.Value),
		FirstParty: f.FirstParty, Grants: ticked(f.Grants), Scopes: ticked(f.Scopes),
	}
	for _, o := range f.Method.Options {
		if o.Checked && o.Value != oauthclient.AuthNone {
			n.Confidential, n.AuthMethod = true, o.Value
		}
	}
	return n
}

// lines is s's non-blank lines, trimmed: one redirect URI a line.
func lines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// ticked is the values of c's ticked options, nil for none.
func ticked(c *choices) []string {
	var out []string
	for _, o := range c.Options {
		if o.Checked {
			out = append(out, o.Value)
		}
	}
	return out
}

// failed shows err on f: each invalid field's first rule next to it (the
// registry reports every rule a client breaks), else on the form.
func (p *Pages) clientFormFailed(w http.ResponseWriter, r *http.Request, c user.Caller, f *clientForm, err error) {
	status, text, name := p.explain(r, err)
	fields := map[string]*string{
		"name": &f.Name.Error, "redirect_uris": &f.RedirectURIs.Error, "post_logout_redirect_uris": &f.LogoutURIs.Error,
		"current_password": &f.Password.Error, "token_endpoint_auth_method": &f.Method.Error,
		"grant_types": &f.Grants.Error, "scopes": &f.Scopes.Error,
	}
	onField := false
	for _, v := range validationErrors(err) {
		if at, ok := fields[v.Field]; ok && *at == "" {
			*at, onField = p.invalidText(v), true
		}
	}
	if at, ok := fields[name]; ok && !onField {
		*at, onField = text, true
	}
	f.Error = text
	if onField {
		f.Error = p.must("error.form")
	}
	p.render(w, r, status, view{Page: "admin_client_new", Title: "admin.client.new_title", Intro: "admin.client.new_intro",
		ClientForm: f, Me: &c.User})
}

// validationErrors is every *user.ValidationError in err's tree.
func validationErrors(err error) []*user.ValidationError {
	if v, ok := err.(*user.ValidationError); ok { //nolint:errorlint // the tree is walked below
		return []*user.ValidationError{v}
	}
	var out []*user.ValidationError
	switch u := err.(type) { //nolint:errorlint // the tree is walked here
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, validationErrors(e)...)
		}
	case interface{ Unwrap() error }:
		out = validationErrors(u.Unwrap())
	}
	return out
}

func (p *Pages) newClientPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	if p.opts.Clients == nil {
		p.errorPage(w, r, http.StatusServiceUnavailable, "error.unavailable")
		return
	}
	p.render(w, r, http.StatusOK, view{Page: "admin_client_new", Title: "admin.client.new_title", Intro: "admin.client.new_intro",
		ClientForm: newClientForm(), Me: &c.User})
}

// createClient registers the form's client once the current password is
// checked, and sends the browser to the client's page: a confidential
// client's secret page, which shows its secret once.
func (p *Pages) createClient(w http.ResponseWriter, r *http.Request, c user.Caller) {
	f := newClientForm()
	f.fill(r)
	if p.opts.Clients == nil {
		p.clientFormFailed(w, r, c, f, errNoRegistry)
		return
	}
	c, err := p.reauthenticated(r, c)
	if err == nil {
		err = p.allowWrite(r, p.opts.Limits.Write, c, perAccount)
	}
	var cl oauthclient.Client
	var secret string
	if err == nil {
		cl, secret, err = p.opts.Clients.Create(p.client(r), c.User, f.newClient())
	}
	if err != nil {
		p.clientFormFailed(w, r, c, f, err)
		return
	}
	if secret == "" {
		redirect(w, withNotice(clientsPath+"/"+cl.ID, "created"))
		return
	}
	p.holdSecret(w, c, secretPath(cl.ID), []string{secret}, "created")
	redirect(w, secretPath(cl.ID))
}

// adminClient is the client of the path's {id}; false when it rendered an
// error page.
func (p *Pages) adminClient(w http.ResponseWriter, r *http.Request, c user.Caller) (oauthclient.Client, bool) {
	if p.opts.Clients == nil {
		p.errorPage(w, r, http.StatusServiceUnavailable, "error.unavailable")
		return oauthclient.Client{}, false
	}
	cl, err := p.opts.Clients.Get(p.client(r), c.User, r.PathValue("id"))
	if err != nil {
		status, _, _ := p.explain(r, err)
		p.errorPage(w, r, status, refusalKey(err))
		return oauthclient.Client{}, false
	}
	return cl, true
}

// rotateForm is the form that gives cl a new secret.
func rotateForm(cl oauthclient.Client) *form {
	return &form{ID: "h-rotate", Action: clientsPath + "/" + cl.ID + "/rotate-secret", Submit: "admin.client.rotate",
		Fields: []*field{passwordField("")}}
}

// clientView is cl's page: its facts, the new secret when there is one
// (shown this once), the rotate form (fail shows on it) and the link to
// delete it.
func (p *Pages) clientView(w http.ResponseWriter, r *http.Request, c user.Caller, cl oauthclient.Client, secret, notice string, fail error) {
	v := view{Page: "admin_client", Title: "admin.client.title", Notice: notice, Client: &cl, Secret: secret, Me: &c.User}
	if !cl.Public() {
		v.Form = rotateForm(cl)
	}
	p.show(w, r, v, v.Form, fail)
}

func (p *Pages) adminClientPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	if cl, ok := p.adminClient(w, r, c); ok {
		p.clientView(w, r, c, cl, "", clientNotices[r.URL.Query().Get("notice")], nil)
	}
}

// clientSecretPage is the client's page with the new secret the browser
// holds for it, shown this once: the cookie goes as the page renders, so
// a reload (or a cookie of another session, expired or altered) says the
// secret was shown once and how to rotate it, and creates nothing.
func (p *Pages) clientSecretPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	secret, notice, held := p.takeSecret(w, r, c, secretPath(r.PathValue("id")))
	cl, ok := p.adminClient(w, r, c)
	switch {
	case !ok:
	case cl.Public(): // it never had a secret
		p.clientView(w, r, c, cl, "", "", nil)
	case held:
		p.clientView(w, r, c, cl, secret[0], clientNotices[notice], nil)
	default:
		p.clientView(w, r, c, cl, "", "admin.client.notice.secret_gone", nil)
	}
}

// rotateClientSecret gives the client a new secret, shown once on its
// secret page; the previous one stops working at once.
func (p *Pages) rotateClientSecret(w http.ResponseWriter, r *http.Request, c user.Caller) {
	cl, ok := p.adminClient(w, r, c)
	if !ok {
		return
	}
	c, err := p.reauthenticated(r, c)
	if err == nil {
		err = p.allowWrite(r, p.opts.Limits.Write, c, perAccount)
	}
	var secret string
	if err == nil {
		cl, secret, err = p.opts.Clients.RotateSecret(p.client(r), c.User, cl.ID)
	}
	switch {
	case err != nil && cl.Public():
		status, _, _ := p.explain(r, err)
		p.errorPage(w, r, status, refusalKey(err))
	case err != nil:
		p.clientView(w, r, c, cl, "", "", err)
	default:
		p.holdSecret(w, c, secretPath(cl.ID), []string{secret}, "rotated")
		redirect(w, secretPath(cl.ID))
	}
}

// deleteForm is the confirmation's form: the current password and the
// confirmation itself.
func deleteForm(cl oauthclient.Client) *form {
	return &form{Action: clientsPath + "/" + cl.ID + "/delete", Submit: "admin.client.delete", Danger: true,
		Hidden: []hidden{{Name: "confirm", Value: "yes"}},
		Fields: []*field{passwordField("")}}
}

// deleteClientView is the page asking to confirm deleting cl; fail shows
// on its form.
func (p *Pages) deleteClientView(w http.ResponseWriter, r *http.Request, c user.Caller, cl oauthclient.Client, fail error) {
	f := deleteForm(cl)
	v := view{Page: "admin_client_delete", Title: "admin.client.delete_title", Intro: "admin.client.delete_intro",
		Client: &cl, Form: f, Me: &c.User, Links: []link{{Href: clientsPath + "/" + cl.ID, Label: "admin.confirm.cancel"}}}
	p.show(w, r, v, f, fail)
}

func (p *Pages) deleteClientPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	if cl, ok := p.adminClient(w, r, c); ok {
		p.deleteClientView(w, r, c, cl, nil)
	}
}

// deleteClient deletes the client once confirmed with the current
// password: its secret and its service-account tokens stop working.
func (p *Pages) deleteClient(w http.ResponseWriter, r *http.Request, c user.Caller) {
	cl, ok := p.adminClient(w, r, c)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		redirect(w, r.URL.Path)
		return
	}
	c, err := p.reauthenticated(r, c)
	if err == nil {
		err = p.allowWrite(r, p.opts.Limits.Write, c, perAccount)
	}
	if err == nil {
		err = p.opts.Clients.Delete(p.client(r), c.User, cl.ID)
	}
	if err != nil {
		p.deleteClientView(w, r, c, cl, err)
		return
	}
	redirect(w, withNotice(clientsPath, "deleted"))
}
