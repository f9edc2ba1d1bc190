package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
)

// keys runs `usersvc keys rotate [--now]|retire KID|list|reseal`.
func keys(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs, now := keysFlags()
	verb, kid, done, err := parseKeysArgs(fs, now, args, stdout)
	if done || err != nil {
		return err
	}
	cfg, err := loadConfig(environ, stderr)
	if err != nil {
		return err
	}
	ctx = asCommand(ctx, "usersvc keys "+verb, environ)
	if verb == "reseal" {
		return reseal(ctx, cfg, stdout, commandLog(stderr))
	}
	if cfg.JWTAlg == security.HS256 {
		return errors.New("USERSVC_JWT_ALG=HS256 signs with USERSVC_JWT_SECRET: there are no stored keys to rotate, retire or list")
	}
	db, err := app.OpenMigrated(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	log := commandLog(stderr)
	if verb == "list" {
		return listStored(ctx, cfg, db, log, stdout, stderr)
	}
	ring, err := app.RingToChange(ctx, cfg, db, log, time.Now)
	if err != nil {
		return err
	}
	switch verb {
	case "rotate":
		info, err := rotate(ctx, ring, *now, stdout)
		if err != nil {
			return err
		}
		if err := app.RecordKeyChange(ctx, db, app.AuditKeyRotated, info.ID, app.RotationDetail(info)); err != nil {
			return fmt.Errorf("keys rotate: %w", err)
		}
	case "retire":
		info, err := ring.Revoke(ctx, kid)
		if err != nil {
			return fmt.Errorf("retire %s: %w", kid, err)
		}
		fmt.Fprintf(stdout, "revoked signing key %s: its tokens are refused and it leaves the JWKS now here, within %s on every replica\n", info.ID, app.KeyReloadEvery)
		if err := app.RecordKeyChange(ctx, db, app.AuditKeyRevoked, info.ID, nil); err != nil {
			return fmt.Errorf("keys retire: %w", err)
		}
	}
	return listKeys(stdout, ring.List())
}

// keysFlags defines the flags of keys: --now, for rotate.
func keysFlags() (*flag.FlagSet, *bool) {
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	return fs, fs.Bool("now", false, "rotate: sign with the new key at once (a leaked key), without the publish delay")
}

// parseKeysArgs reads `keys rotate [--now]`, `keys retire KID` or `keys
// list`; --now belongs to rotate alone.
func parseKeysArgs(fs *flag.FlagSet, now *bool, args []string, stdout io.Writer) (verb, kid string, done bool, err error) {
	if len(args) == 0 || args[0] != "retire" {
		verb, done, err = keysHelp.parseVerb(fs, args, stdout, "rotate", "retire", "list", "reseal")
		if done || err != nil {
			return "", "", done, err
		}
		if verb != "rotate" && *now {
			return "", "", false, keysHelp.misuse(fs, "keys %s takes no --now", verb)
		}
		return verb, "", false, nil
	}
	rest, done, err := keysHelp.parse(fs, args[1:], stdout)
	if done || err != nil {
		return "", "", done, err
	}
	if len(rest) != 1 || *now {
		return "", "", false, keysHelp.misuse(fs, "keys retire takes one key id and no --now")
	}
	return "retire", rest[0], false, nil
}

// rotate adds a key: staged (published now, signing after the publish
// delay) or, with now, signing at once. When no key signs (a database
// without keys, or a new USERSVC_JWT_ALG) the key signs at once too, the
// only one made: staged, nothing would sign until its moment.
func rotate(ctx context.Context, ring *signing.Ring, now bool, stdout io.Writer) (signing.Info, error) {
	if _, _, err := ring.SigningKey(); err != nil {
		info, err := ring.RotateNow(ctx)
		if err != nil {
			return signing.Info{}, err
		}
		fmt.Fprintf(stdout, "no signing key signed: new signing key %s (%s) is the first and signs now; other replicas sign with it within %s\n", info.ID, info.Alg, app.KeyReloadEvery)
		return info, nil
	}
	if now {
		info, err := ring.RotateNow(ctx)
		if err != nil {
			return signing.Info{}, err
		}
		fmt.Fprintf(stdout, "new signing key %s (%s) signs now; other replicas sign with it within %s. Verifiers that cache the JWKS may refuse its tokens until they refetch it. To withdraw the old key at once: usersvc keys retire KID\n", info.ID, info.Alg, app.KeyReloadEvery)
		return info, nil
	}
	info, err := ring.Rotate(ctx)
	if err != nil {
		return signing.Info{}, err
	}
	fmt.Fprintf(stdout, "new signing key %s (%s) is published now and signs from %s on\n", info.ID, info.Alg, info.CreatedAt.UTC().Format(time.RFC3339))
	return info, nil
}

// reseal seals everything sealed under the key-encryption key or the
// previous one again under the key-encryption key, and prints what it did
// by kind.
func reseal(ctx context.Context, cfg config.Config, stdout io.Writer, log *slog.Logger) error {
	db, err := app.OpenMigrated(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	counts, err := app.Reseal(ctx, cfg, db, log)
	changed := 0
	for _, c := range counts {
		fmt.Fprintf(stdout, "%s: %d resealed, %d already under the current key", c.Kind, c.Resealed, c.Current)
		if c.Changed > 0 {
			fmt.Fprintf(stdout, ", %d changed meanwhile (run again)", c.Changed)
		}
		fmt.Fprintln(stdout)
		changed += c.Changed
	}
	if err != nil {
		return fmt.Errorf("reseal: %w", err)
	}
	if err := app.RecordKeyChange(ctx, db, app.AuditKeysResealed, "", resealDetail(counts)); err != nil {
		return fmt.Errorf("keys reseal: %w", err)
	}
	if changed == 0 {
		fmt.Fprintln(stdout, "everything sealed opens with USERSVC_KEY_ENCRYPTION_KEY: USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS can be removed")
	}
	return nil
}

// resealDetail is the audit detail of a reseal: how many values of each
// kind it sealed again ("signing keys" as signing_keys).
func resealDetail(counts []signing.ResealCount) map[string]string {
	d := map[string]string{}
	for _, c := range counts {
		d[strings.ReplaceAll(c.Kind, " ", "_")] = strconv.Itoa(c.Resealed)
	}
	return d
}

// listStored runs `keys list`: the stored keys as they are, changing
// nothing (the first key is serve's, or `keys rotate`'s, to make); with
// none, an empty table and a note on stderr.
func listStored(ctx context.Context, cfg config.Config, db app.Store, log *slog.Logger, stdout, stderr io.Writer) error {
	ring, err := app.LoadRing(ctx, cfg, db, log, time.Now)
	if err != nil {
		return err
	}
	list := ring.List()
	if len(list) == 0 {
		fmt.Fprintf(stderr, "no signing keys (%s) stored yet: serve makes the first when it starts, or `usersvc keys rotate`\n", cfg.JWTAlg)
	}
	return listKeys(stdout, list)
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
