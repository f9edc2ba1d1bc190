package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/webhook"
)

const webhooksUsage = `usage: usersvc webhooks list
       usersvc webhooks create --url URL --types TYPE[,TYPE...] [--description TEXT] [--disabled]
       usersvc webhooks delete ID

Manages webhook endpoints without an admin token, from a shell on the
server; the admin API (/api/v1/admin/webhooks) does the same and more
(update, rotate the secret, test, deliveries, replay). Changes are
recorded in the audit log with no actor (an operator).

create prints the endpoint's id and its signing secret (whsec_...), shown
only this once. --types takes event types from the catalogue (see the
README's "Events and webhooks"), or * for every type.

Reads the settings of serve (USERSVC_*, DATABASE_URL, USERSVC_DATA_DIR): run
` + "`usersvc migrate up`" + ` (or serve once) first.`

// webhooksCmd runs `usersvc webhooks list|create|delete`.
func webhooksCmd(ctx context.Context, args, environ []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		_, err := fmt.Fprintln(stdout, webhooksUsage)
		return err
	}
	sub, rest := args[0], args[1:]
	var run func(context.Context, *webhook.Service) error
	switch sub {
	case "list":
		if len(rest) > 0 {
			return fmt.Errorf("webhooks list takes no arguments\n\n%s", webhooksUsage)
		}
		run = func(ctx context.Context, svc *webhook.Service) error { return listWebhooks(ctx, svc, stdout) }
	case "create":
		in, err := parseWebhookCreate(rest)
		if err != nil {
			return err
		}
		run = func(ctx context.Context, svc *webhook.Service) error { return createWebhook(ctx, svc, in, stdout) }
	case "delete":
		if len(rest) != 1 {
			return fmt.Errorf("webhooks delete takes one endpoint id\n\n%s", webhooksUsage)
		}
		id, err := uuid.Parse(rest[0])
		if err != nil {
			return fmt.Errorf("webhooks delete: %q is not an endpoint id", rest[0])
		}
		run = func(ctx context.Context, svc *webhook.Service) error {
			if err := svc.Delete(ctx, webhook.Operator, id); err != nil {
				return fmt.Errorf("webhooks delete: %w", err)
			}
			_, err := fmt.Fprintf(stdout, "deleted webhook endpoint %s and its deliveries\n", id)
			return err
		}
	default:
		return fmt.Errorf("unknown webhooks command %q\n\n%s", sub, webhooksUsage)
	}
	cfg, err := loadConfig(environ, stdout)
	if err != nil {
		return err
	}
	db, _, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	svc, err := app.WebhookService(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		return err
	}
	if svc == nil {
		return webhook.ErrUnavailable
	}
	return run(ctx, svc)
}

// parseWebhookCreate reads create's flags.
func parseWebhookCreate(args []string) (webhook.NewEndpoint, error) {
	var in webhook.NewEndpoint
	var types string
	fs := flag.NewFlagSet("webhooks create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&in.URL, "url", "", "where events are POSTed")
	fs.StringVar(&types, "types", "", "event types, comma-separated, or *")
	fs.StringVar(&in.Description, "description", "", "what the endpoint is for")
	fs.BoolVar(&in.Disabled, "disabled", false, "register it disabled")
	if err := fs.Parse(args); err != nil {
		return in, fmt.Errorf("%w\n\n%s", err, webhooksUsage)
	}
	if fs.NArg() > 0 || in.URL == "" || types == "" {
		return in, fmt.Errorf("webhooks create needs --url and --types\n\n%s", webhooksUsage)
	}
	for _, t := range strings.Split(types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			in.Types = append(in.Types, t)
		}
	}
	return in, nil
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
