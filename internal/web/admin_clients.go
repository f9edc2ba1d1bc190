package web

import (
	"context"
	"net/http"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
)

// The console's list of registered OAuth clients (issue 23). Creating,
// deleting and rotating a secret are on the CLI (usersvc clients) and the
// admin API for now.

// AdminClients is the client registry as the console reads it
// (oauthclient.Service).
type AdminClients interface {
	List(ctx context.Context, actor user.User) ([]oauthclient.Client, error)
}

// adminClientRoutes are the console's client routes (in routes()).
func (p *Pages) adminClientRoutes() []route {
	return []route{{"GET /admin/clients", p.admin(p.adminClientsPage)}}
}

func (p *Pages) adminClientsPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	var list []oauthclient.Client
	if p.opts.Clients != nil {
		var err error
		if list, err = p.opts.Clients.List(r.Context(), c.User); err != nil {
			st, _, _ := p.explain(r, err)
			p.errorPage(w, r, st, "error.unavailable")
			return
		}
	}
	p.render(w, r, http.StatusOK, view{Page: "admin_clients", Title: "admin.clients.title", Intro: "admin.clients.intro",
		Clients: list, Me: &c.User})
}
