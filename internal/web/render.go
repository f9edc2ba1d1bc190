package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
)

//go:embed templates/*.html
var templateFS embed.FS

// view is what a page template renders. Title, Intro and Notice are
// catalogue keys; TitleArg, when set, fills the title's one fmt verb.
type view struct {
	Page     string // the template, and the nav entry it marks current
	Title    string
	TitleArg string
	Intro    string
	Notice   string
	Form     *form
	Forms    []*form // further forms on the page (account, sessions)
	Links    []link
	Me       *user.User // the signed-in user, for the nav; nil: none
	// Sessions and Current are the sessions page's (sessions.go), with
	// Here is the query of its page ("?cursor=...") that its forms carry
	// back; Others, whether the account has other sessions to end.
	Sessions []sessionRow
	Current  uuid.UUID
	Here     string
	Others   bool
	// The admin console's (admin.go): a listing's users or events and its
	// paging, the user a page is about, the link to its events, the audit
	// page's filters.
	Users   []user.User
	Events  []user.AuditEvent
	Pager   pager
	Subject *user.User
	Audit   string
	Filters *auditFilters
	// Passkeys and Error are the passkeys page's: the list with each
	// passkey's forms, and what went wrong (text) with the last change
	// when not on a field of the form posted.
	Passkeys []passkeyRow
	Error    string
	// PasskeySignIn shows the sign-in page's passkey button (to script).
	PasskeySignIn bool
	// PasskeySecondFactor shows the second step's passkey button (to
	// script) for the login of MFAToken.
	PasskeySecondFactor bool
	MFAToken            string
	// Apps are the connected apps page's (consents.go).
	Apps []App
	// The console's clients (admin_clients.go): the list, the client a
	// page is about, its new secret (shown once), the registration form.
	Clients    []oauthclient.Client
	Client     *oauthclient.Client
	Secret     string
	ClientForm *clientForm
	// MFA is the authenticator app page's (mfa_pages.go).
	MFA *mfaPage
	// Consent is the OpenID provider's consent page's (provider_pages.go).
	Consent *Consent
	Brand   brand
}

// brand is the product's name, logo and stylesheet, on every page.
type brand struct {
	Product, Logo, CSS string
}

// link is a link under a page's form; Label is a catalogue key.
type link struct{ Href, Label string }

// form is a form of a page: Error is its form-level message (text, not a
// key), Submit a catalogue key. Danger styles the button as destructive.
type form struct {
	ID     string // the heading id the form is labelled by, if any
	Action string
	Submit string
	Fields []*field
	Hidden []hidden
	Error  string
	Danger bool
}

// field is one labelled input. Label and Hint are catalogue keys; Error is
// text. ID is the input's id when not f-<Name>: for a page with two forms
// asking for a field of one name. MaxLength is the input's maxlength (0
// for none).
type field struct {
	Name, Type, Autocomplete string
	Label, Hint              string
	Value                    string
	Error                    string
	Optional                 bool
	ID                       string
	MaxLength                int
}

// InputID is the id of f's input; its hint's and error's ids start with
// it.
func (f *field) InputID() string { return orDefault(f.ID, "f-"+f.Name) }

// passwordField is the field asking the signed-in user's current password
// (again, for a sensitive change), with hint ("" for none) saying why.
func passwordField(hint string) *field {
	return &field{Name: "current_password", Type: "password", Autocomplete: "current-password",
		Label: "field.current_password", Hint: hint}
}

type hidden struct{ Name, Value string }

// field returns f's field called name, nil when it has none (or f is
// nil).
func (f *form) field(name string) *field {
	if f == nil {
		return nil
	}
	for _, fl := range f.Fields {
		if fl.Name == name {
			return fl
		}
	}
	return nil
}

// describedBy is the ids an input's aria-describedby lists: its hint and
// its error.
func describedBy(f *field) string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, f.InputID()+"-hint")
	}
	if f.Error != "" {
		ids = append(ids, f.InputID()+"-error")
	}
	return strings.Join(ids, " ")
}

// views are the page templates, each parsed with the layout.
var views = []string{"form", "message", "account", "sessions", "passkeys", "admin_users", "admin_user", "admin_confirm", "admin_audit", "apps", "admin_clients", "admin_client", "admin_client_new", "admin_client_delete", "mfa", "consent"}

func (p *Pages) parseViews() (map[string]*template.Template, error) {
	funcs := template.FuncMap{"t": p.msg.text, "describedBy": describedBy, "scope": p.scopeText, "title": p.title}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	out := map[string]*template.Template{}
	for _, name := range views {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		out[name] = t
	}
	return out, nil
}

// title is v's title: its Title's text, with TitleArg in it when set.
func (p *Pages) title(v view) (string, error) {
	if v.TitleArg != "" {
		return p.msg.text(v.Title, v.TitleArg)
	}
	return p.msg.text(v.Title)
}

// render writes v with status. The page is rendered into a buffer first,
// so that a template error is a clean 500, not half a page.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, v view) {
	v.Brand = brand{Product: p.opts.ProductName, Logo: p.opts.LogoURL, CSS: p.css.href}
	if v.Me == nil {
		if me, ok := callerFrom(r.Context()); ok {
			v.Me = &me.User
		}
	}
	t, ok := p.views[v.Page]
	var buf bytes.Buffer
	err := fmt.Errorf("web: no view %q", v.Page)
	if ok {
		err = t.ExecuteTemplate(&buf, "layout", v)
	}
	if err != nil {
		p.log.ErrorContext(r.Context(), "render page", "page", v.Page, "error", err.Error())
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
