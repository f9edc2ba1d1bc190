package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/retention"
)

// retentionFlags defines the flags of `retention run`.
func retentionFlags() (*flag.FlagSet, *bool) {
	fs := flag.NewFlagSet("retention run", flag.ContinueOnError)
	return fs, fs.Bool("dry-run", false, "only count what would be removed")
}

// retentionCmd runs `usersvc retention run [--dry-run]`: what the service
// does every USERSVC_RETENTION_INTERVAL, now, printing the rows removed
// (with --dry-run: that would be) per table.
func retentionCmd(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs, dryRun := retentionFlags()
	if _, done, err := retentionHelp.parseVerb(fs, args, stdout, "run"); done || err != nil {
		return err
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
	counts, err := app.RunRetention(ctx, cfg, db, *dryRun)
	if err != nil {
		return err
	}
	verb := "removed"
	if *dryRun {
		verb = "would remove"
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "table\trows %s\n", verb)
	for _, t := range retention.Reported {
		if n, ok := counts[t]; ok {
			fmt.Fprintf(w, "%s\t%d\n", t, n)
		} else {
			fmt.Fprintf(w, "%s\t-\n", t) // not counted (a dry run's webhook attempts)
		}
	}
	return w.Flush()
}
