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

// keys runs `usersvc keys rotate|list`.
func keys(ctx context.Context, args, environ []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	verb, done, err := keysHelp.parseVerb(fs, args, stdout, "rotate", "list")
	if done || err != nil {
		return err
	}
	cfg, err := loadConfig(environ, stdout)
	if err != nil {
		return err
	}
	if cfg.JWTAlg == security.HS256 {
		return errors.New("USERSVC_JWT_ALG=HS256 signs with USERSVC_JWT_SECRET: there are no stored keys to rotate or list")
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
	if verb == "rotate" {
		info, err := ring.Rotate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new signing key %s (%s); other replicas sign with it within %s\n", info.ID, info.Alg, app.KeyReloadEvery)
	}
	return listKeys(stdout, ring.List())
}

func listKeys(stdout io.Writer, list []signing.Info) error {
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KID\tALG\tCREATED\tSTATE\tRETIRES")
	for _, k := range list {
		retires := "-"
		if !k.RetiresAt.IsZero() {
			retires = k.RetiresAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Alg, k.CreatedAt.UTC().Format(time.RFC3339), k.State, retires)
	}
	return w.Flush()
}
