package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
)

const keysUsage = "usage: usersvc keys rotate [--now] | retire KID | list"

// keys runs `usersvc keys rotate [--now]|retire KID|list`.
func keys(ctx context.Context, args, environ []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(keysUsage)
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	now := fs.Bool("now", false, "sign with the new key at once (a leaked key), without the publish delay")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n%s", err, keysUsage)
	}
	switch {
	case sub == "rotate" && fs.NArg() == 0:
	case sub == "list" && fs.NArg() == 0 && !*now:
	case sub == "retire" && fs.NArg() == 1 && !*now:
	default:
		return errors.New(keysUsage)
	}
	cfg, err := loadConfig(environ, stdout)
	if err != nil {
		return err
	}
	if cfg.JWTAlg == security.HS256 {
		return errors.New("USERSVC_JWT_ALG=HS256 signs with USERSVC_JWT_SECRET: there are no stored keys to rotate, retire or list")
	}
	db, _, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ring, err := app.OpenRing(ctx, cfg, db, log, time.Now)
	if err != nil {
		return err
	}
	switch sub {
	case "rotate":
		if err := rotate(ctx, ring, *now, stdout); err != nil {
			return err
		}
	case "retire":
		info, err := ring.Revoke(ctx, fs.Arg(0))
		if err != nil {
			return fmt.Errorf("retire %s: %w", fs.Arg(0), err)
		}
		fmt.Fprintf(stdout, "revoked signing key %s: its tokens are refused and it leaves the JWKS now here, within %s on every replica\n", info.ID, app.KeyReloadEvery)
	}
	return listKeys(stdout, ring.List())
}

// rotate adds a key: staged (published now, signing after the publish
// delay) or, with now, signing at once.
func rotate(ctx context.Context, ring *signing.Ring, now bool, stdout io.Writer) error {
	if now {
		info, err := ring.RotateNow(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new signing key %s (%s) signs now; other replicas sign with it within %s. Verifiers that cache the JWKS may refuse its tokens until they refetch it. To withdraw the old key at once: usersvc keys retire KID\n", info.ID, info.Alg, app.KeyReloadEvery)
		return nil
	}
	info, err := ring.Rotate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new signing key %s (%s) is published now and signs from %s on\n", info.ID, info.Alg, info.CreatedAt.UTC().Format(time.RFC3339))
	return nil
}

func listKeys(stdout io.Writer, list []signing.Info) error {
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KID\tALG\tPUBLISHED\tSIGNS FROM\tSTATE\tRETIRES")
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, k := range list {
		retires := stamp(k.RetiresAt)
		if k.State == signing.Revoked {
			retires = stamp(k.RevokedAt)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Alg, stamp(k.PublishedAt), stamp(k.CreatedAt), k.State, retires)
	}
	return w.Flush()
}
