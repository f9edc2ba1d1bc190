package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/webhook"
)

// webhooksFlags defines the flags of `webhooks create` into in; types is
// the comma-separated --types, urlFile the --url-file.
func webhooksFlags(in *webhook.NewEndpoint, types, urlFile *string) *flag.FlagSet {
	fs := flag.NewFlagSet("webhooks", flag.ContinueOnError)
	fs.StringVar(&in.URL, "url", "", "create: where events are POSTed")
	fs.StringVar(urlFile, "url-file", "", "create: read the URL from the file at `PATH` (a URL holding the receiver's token stays out of the process list and the shell history)")
	fs.StringVar(types, "types", "", "create: event types, comma-separated, or *")
	fs.StringVar(&in.Description, "description", "", "create: what the endpoint is for")
	fs.BoolVar(&in.Disabled, "disabled", false, "create: register it disabled")
	return fs
}

// webhooksCmd runs `usersvc webhooks list|create|delete`.
func webhooksCmd(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	var in webhook.NewEndpoint
	var types, urlFile string
	fs := webhooksFlags(&in, &types, &urlFile)
	verb, rest, done, err := parseWebhooksArgs(fs, args, stdout)
	if done || err != nil {
		return err
	}
	var run func(context.Context, *webhook.Service) error
	switch verb {
	case "list":
		run = func(ctx context.Context, svc *webhook.Service) error { return listWebhooks(ctx, svc, stdout) }
	case "create":
		if in, err = newEndpoint(fs, in, types, urlFile); err != nil {
			return err
		}
		run = func(ctx context.Context, svc *webhook.Service) error {
			return webhooksHelp.refused(createWebhook(ctx, svc, in, stdout))
		}
	case "delete":
		id, err := uuid.Parse(rest)
		if err != nil {
			return webhooksHelp.misuse(fs, "webhooks delete: %q is not an endpoint id", rest)
		}
		run = func(ctx context.Context, svc *webhook.Service) error {
			if err := svc.Delete(ctx, webhook.Operator, id); err != nil {
				return fmt.Errorf("webhooks delete: %w", err)
			}
			_, err := fmt.Fprintf(stdout, "deleted webhook endpoint %s and its deliveries\n", id)
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
	log := commandLog(stderr)
	svc, err := app.WebhookService(cfg, db, log, time.Now)
	if err != nil {
		return err
	}
	if svc == nil {
		return webhook.ErrUnavailable
	}
	if verb == "create" {
		if err := app.CheckKeyEncryptionKey(ctx, cfg, db, log); err != nil {
			return fmt.Errorf("webhooks create: %w", err)
		}
	}
	return run(asCommand(ctx, "usersvc webhooks "+verb, environ), svc)
}

// newEndpoint is in completed from the flags of `webhooks create`: the
// URL read from urlFile when given, the comma-separated types.
func newEndpoint(fs *flag.FlagSet, in webhook.NewEndpoint, types, urlFile string) (webhook.NewEndpoint, error) {
	if (in.URL == "") == (urlFile == "") || types == "" {
		return in, webhooksHelp.misuse(fs, "webhooks create needs --url and --types (or --url-file in place of --url, not both)")
	}
	if urlFile != "" {
		var err error
		if in.URL, err = readSecretFile("--url-file", urlFile); err != nil {
			return in, err
		}
	}
	for _, t := range strings.Split(types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			in.Types = append(in.Types, t)
		}
	}
	return in, nil
}

// parseWebhooksArgs reads `webhooks list`, `webhooks create --url ...` or
// `webhooks delete ID`; rest is delete's id. The create flags belong to
// create alone.
func parseWebhooksArgs(fs *flag.FlagSet, args []string, stdout io.Writer) (verb, rest string, done bool, err error) {
	if len(args) == 0 || args[0] != "delete" {
		verb, done, err = webhooksHelp.parseVerb(fs, args, stdout, "list", "create", "delete")
		if done || err != nil {
			return "", "", done, err
		}
		if verb == "list" && fs.NFlag() > 0 {
			return "", "", false, webhooksHelp.misuse(fs, "webhooks list takes no flags")
		}
		return verb, "", false, nil
	}
	more, done, err := webhooksHelp.parse(fs, args[1:], stdout)
	if done || err != nil {
		return "", "", done, err
	}
	if len(more) != 1 || fs.NFlag() > 0 {
		return "", "", false, webhooksHelp.misuse(fs, "webhooks delete takes one endpoint id and no flags")
	}
	return "delete", more[0], false, nil
}

func createWebhook(ctx context.Context, svc *webhook.Service, in webhook.NewEndpoint, stdout io.Writer) error {
	e, secret, err := svc.Create(ctx, webhook.Operator, in)
	if err != nil {
		return fmt.Errorf("webhooks create: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "created webhook endpoint %s\nsigning secret (shown only now): %s\n", e.ID, secret)
	return err
}

func listWebhooks(ctx context.Context, svc *webhook.Service, stdout io.Writer) error {
	es, err := svc.List(ctx, webhook.Operator)
	if err != nil {
		return fmt.Errorf("webhooks list: %w", err)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tURL\tTYPES\tENABLED\tFAILING SINCE")
	for _, e := range es {
		failing := "-"
		if !e.FailingSince.IsZero() {
			failing = e.FailingSince.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", e.ID, e.URL, strings.Join(e.Types, ","), e.Enabled, failing)
	}
	return w.Flush()
}
