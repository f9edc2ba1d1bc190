package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	domain "github.com/usersvc/usersvc/internal/user"
)

// pruneRequest is what `usersvc audit prune` was asked.
type pruneRequest struct {
	before, olderThan string
	dryRun            bool
}

// auditPruneFlags defines audit prune's flags into the request it returns.
func auditPruneFlags() (*flag.FlagSet, *pruneRequest) {
	var r pruneRequest
	fs := flag.NewFlagSet("audit prune", flag.ContinueOnError)
	fs.StringVar(&r.before, "before", "", "remove the events older than `DATE`: 2025-01-31 (midnight UTC) or an RFC 3339 time")
	fs.StringVar(&r.olderThan, "older-than", "", "remove the events older than `AGE` before now: 400d, 13w, 9000h (for schedules)")
	fs.BoolVar(&r.dryRun, "dry-run", false, "print how many events would be removed, and remove nothing")
	return fs, &r
}

// audit runs `usersvc audit prune`.
func audit(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs, r := auditPruneFlags()
	if _, done, err := auditPruneHelp.parseVerb(fs, args, stdout, "prune"); done || err != nil {
		return err
	}
	before, err := r.cutoff(time.Now())
	if err != nil {
		return auditPruneHelp.misuse(fs, "audit prune: %w", err)
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
	service := app.AccountService
	if r.dryRun {
		service = app.ReadingService // it writes nothing, so it needs no key
	}
	svc, err := service(cfg, db, commandLog(stderr))
	if err != nil {
		return err
	}
	n, err := svc.PruneAudit(ctx, domain.AuditPrune{
		Before: before, Operator: operator(environ), Via: "usersvc audit prune", DryRun: r.dryRun,
	})
	if v, ok := errors.AsType[*domain.ValidationError](err); ok {
		return auditPruneHelp.misuse(fs, "audit prune --%s: %s", strings.ReplaceAll(v.Field, "_", "-"), v.Message)
	}
	if err != nil {
		return fmt.Errorf("audit prune: %w", err)
	}
	date := before.UTC().Format(time.RFC3339)
	if r.dryRun {
		_, err = fmt.Fprintf(stdout, "%d audit events are older than %s (dry run: nothing removed)\n", n, date)
		return err
	}
	_, err = fmt.Fprintf(stdout, "removed %d audit events older than %s; recorded as %s\n", n, date, domain.AuditPruned)
	return err
}

// cutoff is the time before which events go: --before, or now minus
// --older-than. Exactly one of them must be given.
func (r pruneRequest) cutoff(now time.Time) (time.Time, error) {
	switch {
	case r.before == "" && r.olderThan == "":
		return time.Time{}, errors.New("give --before DATE or --older-than AGE")
	case r.before != "" && r.olderThan != "":
		return time.Time{}, errors.New("give --before or --older-than, not both")
	case r.olderThan != "":
		age, err := parseAge(r.olderThan)
		if err != nil {
			return time.Time{}, fmt.Errorf("--older-than %q: %w", r.olderThan, err)
		}
		return now.Add(-age), nil
	}
	if t, err := time.Parse(time.DateOnly, r.before); err == nil {
		return t, nil // midnight UTC
	}
	t, err := time.Parse(time.RFC3339Nano, r.before)
	if err != nil {
		return time.Time{}, fmt.Errorf("--before %q: want a date (2025-01-31) or an RFC 3339 time (2025-01-31T12:00:00Z)", r.before)
	}
	return t, nil
}

// parseAge reads an age: a whole number of days (400d) or weeks (13w), or
// a Go duration (9000h). It must be positive.
func parseAge(s string) (time.Duration, error) {
	const day = 24 * time.Hour
	var age time.Duration
	if n, unit := strings.TrimRight(s, "dw"), strings.TrimLeft(s, "0123456789"); (unit == "d" || unit == "w") && n != "" {
		count, err := strconv.Atoi(n)
		if err != nil || count > 100*366 {
			return 0, errors.New("want a whole number of days (400d) or weeks (13w), at most 100 years")
		}
		age = time.Duration(count) * day
		if unit == "w" {
			age *= 7
		}
	} else {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, errors.New("want days (400d), weeks (13w) or hours (9000h)")
		}
		age = d
	}
	if age <= 0 {
		return 0, errors.New("must be more than zero")
	}
	return age, nil
}

// asCommand returns ctx saying that the command name (usersvc clients
// delete), run by the operator environ names, is the caller: the audit
// events it records carry both as their user agent, since a command has
// no account to record as their actor.
func asCommand(ctx context.Context, name string, environ []string) context.Context {
	return domain.WithClient(ctx, domain.Client{UserAgent: name + " (operator " + operator(environ) + ")"})
}

// operator names who runs the command, for the audit event: $USER, else
// the process's user, else its uid.
func operator(environ []string) string {
	for _, name := range []string{"USER", "LOGNAME"} {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, name+"="); ok && v != "" {
				return v
			}
		}
	}
	if u, err := user.Current(); err == nil {
		if u.Username != "" {
			return u.Username
		}
		return "uid " + u.Uid
	}
	return "unknown"
}
