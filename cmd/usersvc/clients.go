package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/oauthclient"
)

// clientsArgs are the flags of `clients create`; the lists are
// comma-separated.
type clientsArgs struct {
	in                                 oauthclient.NewClient
	redirects, logouts, grants, scopes string
}

// clientsFlags defines the flags of `clients create` into a.
func clientsFlags(a *clientsArgs) *flag.FlagSet {
	fs := flag.NewFlagSet("clients", flag.ContinueOnError)
	fs.StringVar(&a.in.Name, "name", "", "create: the application's name, shown on the consent page")
	fs.BoolVar(&a.in.Confidential, "confidential", false, "create: a confidential client, given a secret (else public: a browser or native app)")
	fs.StringVar(&a.in.AuthMethod, "auth-method", "", "create: how a confidential client sends its secret: client_secret_basic (default) or client_secret_post")
	fs.StringVar(&a.redirects, "redirect-uris", "", "create: redirect URIs, comma-separated, matched exactly (https, or http to a loopback address)")
	fs.StringVar(&a.logouts, "post-logout-redirect-uris", "", "create: where RP-initiated logout may return, comma-separated")
	fs.StringVar(&a.grants, "grants", "", "create: grant types, comma-separated, among "+strings.Join(oauthclient.Grants, ",")+" (default: by kind; password only for --first-party)")
	fs.StringVar(&a.scopes, "scopes", "", "create: scopes, comma-separated, among "+strings.Join(oauthclient.Scopes, ",")+" (default: openid,profile,email,offline_access; none for a service account)")
	fs.BoolVar(&a.in.FirstParty, "first-party", false, "create: one of ours: no consent page, and the password grant by default")
	return fs
}

// list splits a comma-separated flag, nil when empty.
func list(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// clientsCmd runs `usersvc clients list|create|delete|rotate-secret`.
func clientsCmd(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	var a clientsArgs
	fs := clientsFlags(&a)
	verb, id, done, err := parseClientsArgs(fs, args, stdout)
	if done || err != nil {
		return err
	}
	var do func(context.Context, *oauthclient.Service) error
	switch verb {
	case "list":
		do = func(ctx context.Context, svc *oauthclient.Service) error { return listClients(ctx, svc, stdout) }
	case "create":
		if a.in.Name == "" {
			return clientsHelp.misuse(fs, "clients create needs --name")
		}
		a.in.RedirectURIs, a.in.PostLogoutRedirectURIs = list(a.redirects), list(a.logouts)
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "grants":
				a.in.Grants = append([]string{}, list(a.grants)...)
			case "scopes":
				a.in.Scopes = append([]string{}, list(a.scopes)...)
			}
		})
		do = func(ctx context.Context, svc *oauthclient.Service) error {
			return clientsHelp.refused(createClient(ctx, svc, a.in, stdout))
		}
	case "delete":
		do = func(ctx context.Context, svc *oauthclient.Service) error {
			if err := svc.Delete(ctx, oauthclient.Operator(), id); err != nil {
				return fmt.Errorf("clients delete: %w", err)
			}
			_, err := fmt.Fprintf(stdout, "deleted client %s: its secret and tokens no longer work\n", id)
			return err
		}
	case "rotate-secret":
		do = func(ctx context.Context, svc *oauthclient.Service) error {
			_, secret, err := svc.RotateSecret(ctx, oauthclient.Operator(), id)
			if err != nil {
				return fmt.Errorf("clients rotate-secret: %w", err)
			}
			_, err = fmt.Fprintf(stdout, "new client secret of %s (shown only now; the previous one no longer works): %s\n", id, secret)
			return err
		}
	}
	cfg, err := loadConfig(environ, stderr)
	if err != nil {
		return err
	}
	db, err := app.OpenMigrated(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	svc := app.ClientService(db, nil, nil, commandLog(stderr), time.Now)
	if svc == nil {
		return fmt.Errorf("clients: the database keeps no client registry")
	}
	return do(asCommand(ctx, "usersvc clients "+verb, environ), svc)
}

// parseClientsArgs reads `clients list`, `clients create --name ...`,
// `clients delete ID` or `clients rotate-secret ID`; id is the last two's
// client id. The create flags belong to create alone.
func parseClientsArgs(fs *flag.FlagSet, args []string, stdout io.Writer) (verb, id string, done bool, err error) {
	if len(args) == 0 || (args[0] != "delete" && args[0] != "rotate-secret") {
		verb, done, err = clientsHelp.parseVerb(fs, args, stdout, "list", "create", "delete", "rotate-secret")
		if done || err != nil {
			return "", "", done, err
		}
		if verb == "list" && fs.NFlag() > 0 {
			return "", "", false, clientsHelp.misuse(fs, "clients list takes no flags")
		}
		return verb, "", false, nil
	}
	more, done, err := clientsHelp.parse(fs, args[1:], stdout)
	if done || err != nil {
		return "", "", done, err
	}
	if len(more) != 1 || fs.NFlag() > 0 {
		return "", "", false, clientsHelp.misuse(fs, "clients %s takes one client id and no flags", args[0])
	}
	return args[0], more[0], false, nil
}

func createClient(ctx context.Context, svc *oauthclient.Service, in oauthclient.NewClient, stdout io.Writer) error {
	c, secret, err := svc.Create(ctx, oauthclient.Operator(), in)
	if err != nil {
		return fmt.Errorf("clients create: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "created client %s (%s; grants %s; scopes %s)\n", c.ID, kind(c),
		strings.Join(c.Grants, ","), strings.Join(c.Scopes, ",")); err != nil {
		return err
	}
	if secret != "" {
		_, err = fmt.Fprintf(stdout, "client secret (shown only now): %s\n", secret)
	}
	return err
}

// kind says what c is, for people.
func kind(c oauthclient.Client) string {
	k := "public"
	if !c.Public() {
		k = "confidential, " + c.AuthMethod
	}
	if c.FirstParty {
		k += ", first-party"
	}
	return k
}

func listClients(ctx context.Context, svc *oauthclient.Service, stdout io.Writer) error {
	cs, err := svc.List(ctx, oauthclient.Operator())
	if err != nil {
		return fmt.Errorf("clients list: %w", err)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tKIND\tGRANTS\tSCOPES\tREDIRECT URIS")
	for _, c := range cs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, kind(c), strings.Join(c.Grants, ","),
			strings.Join(c.Scopes, ","), strings.Join(c.RedirectURIs, ","))
	}
	return w.Flush()
}
