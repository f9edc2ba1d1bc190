package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/user"
)

// command describes a subcommand for its help: what `usersvc NAME --help`
// prints, and what a wrong invocation prints with its error.
type command struct {
	name     string // as typed after usersvc: "migrate", "audit prune"
	synopsis string // the usage line(s) after "usage: "
	about    string // what it does, wrapped at 76 columns
	// env lists the variables the command uses; every command that reads
	// the settings also loads and validates all of them (allSettings).
	env []string
	// allSettings says the command loads the whole configuration: a bad
	// value of any variable stops it.
	allSettings bool
}

// Variables several commands use.
var (
	storeVars  = []string{"DATABASE_URL", "USERSVC_DATA_DIR"}
	hasherVars = []string{"USERSVC_PASSWORD_HASH", "USERSVC_BCRYPT_COST", "USERSVC_ARGON2_MEMORY_KIB",
		"USERSVC_ARGON2_ITERATIONS", "USERSVC_ARGON2_PARALLELISM", "USERSVC_PASSWORD_MIN_LENGTH"}
)

// The subcommands, for their help. serve's variables are every one.
var (
	serveHelp = command{
		name: "serve", synopsis: "usersvc [serve]",
		about: "Runs the HTTP service on USERSVC_ADDR (the operations listener on\n" +
			"USERSVC_OPS_ADDR) until SIGTERM or SIGINT, migrating the database first\n" +
			"unless USERSVC_MIGRATE_ON_START=false (then the database must exist\n" +
			"and be migrated: run `usersvc migrate up` first).",
		env: config.Variables(), allSettings: true,
	}
	migrateHelp = command{
		name: "migrate", synopsis: "usersvc migrate up|down|status [--yes]",
		about: "up applies every pending migration, down rolls back the latest one,\n" +
			"status lists them with when each was applied, and those applied by a\n" +
			"newer release, which this binary does not know, marked so.\n\n" +
			"down refuses, exit status 2, saying what would be lost, to undo a\n" +
			"migration whose Down destroys what was written since and cannot be\n" +
			"made again (accounts, keys, second factors, clients, webhooks, the\n" +
			"audit log...: docs/deploy.md, \"Irreversible migrations\") unless\n" +
			"--yes confirms it.",
		env: storeVars, allSettings: true,
	}
	keysHelp = command{
		name: "keys", synopsis: "usersvc keys rotate [--now] | retire KID | list | reseal",
		about: "rotate adds a new token signing key: published in the JWKS at once, signing\n" +
			"after USERSVC_KEY_PUBLISH_DELAY (--now: at once, for a leaked key); the old\n" +
			"one keeps verifying until its tokens expire. retire KID withdraws a key at\n" +
			"once. list shows the keys and their states (it only reads: with no key, an\n" +
			"empty table). Not with USERSVC_JWT_ALG=HS256, which has no stored keys.\n\n" +
			"reseal seals everything kept sealed (signing keys, the service key, webhook\n" +
			"and TOTP secrets, queued mail's tokens) again under USERSVC_KEY_ENCRYPTION_KEY,\n" +
			"in batches, and prints the counts by kind; afterwards\n" +
			"USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS can be removed. Run it once every replica\n" +
			"seals with the new key (after the second roll; refused while\n" +
			"USERSVC_KEY_ENCRYPTION_KEY_NEXT is set). It changes nothing and says what\n" +
			"when a value opens with neither key. Running it again is harmless.\n\n" +
			"rotate, retire and reseal are recorded in the audit log with the command and\n" +
			"the operator ($USER, else $LOGNAME, else the process's user) as user agent.",
		env: append(slices.Clone(storeVars), "USERSVC_JWT_ALG", "USERSVC_KEY_ENCRYPTION_KEY",
			"USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS", "USERSVC_KEY_ENCRYPTION_KEY_NEXT", "USERSVC_KEY_PUBLISH_DELAY", "USERSVC_ENV",
			"USER", "LOGNAME"),
		allSettings: true,
	}
	createAdminHelp = command{
		name: "create-admin",
		synopsis: "usersvc create-admin --email EMAIL --username USERNAME [--full-name NAME]\n" +
			"                            [--promote-existing] [--password-file PATH]",
		about: "Creates an administrator. The password comes from --password-file (a file\n" +
			"holding it, such as a mounted secret: one line, trailing newline ignored),\n" +
			"else from the terminal (typed twice, not echoed), else from the first line\n" +
			"of stdin. The password is never a flag or an argument. Run `usersvc migrate\n" +
			"up` (or serve once) first.\n\n" +
			"--promote-existing makes the existing account with this email and username\n" +
			"an administrator (reactivated if needed) instead of creating one. Its email\n" +
			"must be verified, or a new password must be given (file, terminal or\n" +
			"stdin): it replaces the account's password and ends its sessions. Without\n" +
			"the flag an existing account is never touched.",
		env: append(slices.Clone(storeVars), hasherVars...), allSettings: true,
	}
	healthcheckHelp = command{
		name: "healthcheck", synopsis: "usersvc healthcheck [URL]",
		about: "Exits 0 when the running service's /healthz answers 200 within 3 s, 1\n" +
			"otherwise: a container health check without a shell. The default URL is\n" +
			"/healthz on USERSVC_ADDR (a wildcard host means 127.0.0.1); with a URL no\n" +
			"setting is read.",
		env: []string{"USERSVC_ADDR"}, allSettings: true,
	}
	versionHelp = command{
		name: "version", synopsis: "usersvc version",
		about: "Prints the build version (the release tag) and commit.",
	}
	auditPruneHelp = command{
		name: "audit prune", synopsis: "usersvc audit prune (--before DATE | --older-than AGE) [--dry-run]",
		about: "Removes the audit events older than DATE (2025-01-31, midnight UTC, or an\n" +
			"RFC 3339 time) or than AGE (400d, 13w, 9000h), the one way past the audit\n" +
			"log's append-only rule, and records the removal as an audit.pruned event\n" +
			"(operator, date, count) in the same transaction. A date in the future is\n" +
			"refused. --dry-run prints how many events would go and changes nothing.\n" +
			"The operator recorded is $USER (else $LOGNAME, else the process's user).\n" +
			"Run `usersvc migrate up` (or serve once) first.",
		env: append(slices.Clone(storeVars), "USER", "LOGNAME"), allSettings: true,
	}
)

// retentionHelp is `usersvc retention`'s help.
var retentionHelp = command{
	name: "retention", synopsis: "usersvc retention run [--dry-run]",
	about: "Removes now what the retention settings let go (the service does it every\n" +
		"USERSVC_RETENTION_INTERVAL on one replica): ended sessions and their\n" +
		"refresh tokens after USERSVC_SESSION_RETENTION, used or expired mailed\n" +
		"tokens after 7 days, audit events after USERSVC_AUDIT_RETENTION. Prints the\n" +
		"rows removed per table; --dry-run only counts them.",
	env:         append(slices.Clone(storeVars), "USERSVC_SESSION_RETENTION", "USERSVC_AUDIT_RETENTION"),
	allSettings: true,
}

// webhooksHelp is `usersvc webhooks`'s help.
var webhooksHelp = command{
	name: "webhooks",
	synopsis: "usersvc webhooks list\n" +
		"       usersvc webhooks create --url URL|--url-file PATH --types TYPE[,TYPE...] [--description TEXT] [--disabled]\n" +
		"       usersvc webhooks delete ID",
	about: "Manages webhook endpoints without an admin token, from a shell on the\n" +
		"server; the admin API (/api/v1/admin/webhooks) does the same and more\n" +
		"(update, rotate the secret, test, deliveries, replay). Changes are\n" +
		"recorded in the audit log with no actor and, as their user agent, the\n" +
		"command and the operator ($USER, else $LOGNAME, else the process's user).\n\n" +
		"create prints the endpoint's id and its signing secret (whsec_...), shown\n" +
		"only this once; it refuses when USERSVC_KEY_ENCRYPTION_KEY does not open\n" +
		"what the service has sealed (the secret would be sealed where the service\n" +
		"cannot open it). A URL that holds the receiver's token is better read\n" +
		"from a file (--url-file PATH, one line) than typed: arguments show in the\n" +
		"process list and the shell history. --types takes event types from the\n" +
		"catalogue (see the README's \"Events and webhooks\"), or * for every type.\n" +
		"Run `usersvc migrate up` (or serve once) first.",
	env: append(slices.Clone(storeVars), "USERSVC_KEY_ENCRYPTION_KEY", "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS", "USERSVC_KEY_ENCRYPTION_KEY_NEXT", "USERSVC_JWT_ALG",
		"USERSVC_WEBHOOK_ALLOW_PRIVATE", "USERSVC_ENV", "USER", "LOGNAME"),
	allSettings: true,
}

// clientsHelp is `usersvc clients`'s help.
var clientsHelp = command{
	name: "clients",
	synopsis: "usersvc clients list\n" +
		"       usersvc clients create --name NAME [--confidential [--auth-method M]] [--first-party]\n" +
		"           [--redirect-uris URI,...] [--post-logout-redirect-uris URI,...]\n" +
		"           [--grants GRANT,...] [--scopes SCOPE,...]\n" +
		"       usersvc clients delete ID\n" +
		"       usersvc clients rotate-secret ID",
	about: "Manages the OAuth clients (applications that obtain tokens) without an\n" +
		"admin token, from a shell on the server; the admin API\n" +
		"(/api/v1/admin/clients) does the same and can change a client. Changes are\n" +
		"recorded in the audit log with no actor and, as their user agent, the\n" +
		"command and the operator ($USER, else $LOGNAME, else the process's user).\n\n" +
		"create prints the client id and, for a confidential client, its secret,\n" +
		"shown only this once (rotate-secret prints a new one and the old one stops\n" +
		"working). Redirect URIs are matched exactly. A third-party client gets the\n" +
		"password grant only when --grants names it. A service account is a\n" +
		"confidential client with the client_credentials grant and admin scopes\n" +
		"(users:read, users:write, audit:read). Run `usersvc migrate up` (or serve\n" +
		"once) first.",
	env:         append(slices.Clone(storeVars), "USER", "LOGNAME"),
	allSettings: true,
}

// commands are the subcommands by name, for `usersvc help NAME`.
func commands() map[string]command {
	all := map[string]command{}
	for _, c := range []command{serveHelp, migrateHelp, keysHelp, createAdminHelp, healthcheckHelp, versionHelp, auditPruneHelp, retentionHelp, webhooksHelp, clientsHelp} {
		all[c.name] = c
	}
	all["audit"] = auditPruneHelp // its only action
	return all
}

// help is c's help text: usage, what it does, its flags, its variables.
func (c command) help(fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s\n\n%s\n", c.synopsis, c.about)
	b.WriteString("\nflags:\n")
	if fs != nil {
		fs.VisitAll(func(f *flag.Flag) {
			arg, text := flag.UnquoteUsage(f)
			if arg == "value" { // a boolean has none; others name theirs in the usage
				arg = ""
			}
			fmt.Fprintf(&b, "  %s\n      %s\n", strings.TrimSpace("--"+f.Name+" "+arg), text)
		})
	}
	b.WriteString("  -h, --help\n      print this help\n")
	b.WriteString("\nenvironment:\n")
	if len(c.env) == 0 {
		b.WriteString("  none\n")
	} else {
		b.WriteString(wrap(strings.Join(c.env, " "), "  ", 76))
	}
	if c.allSettings {
		b.WriteString("  Every setting is loaded and checked, from the environment and ./.env\n" +
			"  (README.md, Configuration): a bad value of any of them stops the command.\n")
	}
	return b.String()
}

// wrap breaks s at spaces into lines of at most width, each indented.
func wrap(s, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(s) {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	return b.String() + line + "\n"
}

// usageError is a command used wrongly (an unknown flag or command, a
// missing argument): main prints it with the command's usage on stderr and
// exits with status 2, as flag parsing conventionally does.
type usageError struct {
	err   error
	usage string
}

func (e *usageError) Error() string { return fmt.Sprintf("%v\n\n%s", e.err, e.usage) }
func (e *usageError) Unwrap() error { return e.err }

// misuse is a usageError of c.
func (c command) misuse(fs *flag.FlagSet, format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...), usage: c.help(fs)}
}

// refused is err, from the rules c's action applies to the values it was
// given, as a usageError of c when those rules refused a value (a
// *user.ValidationError: exit status 2, with the usage, as a flag's bad
// value); any other error as it is.
func (c command) refused(err error) error {
	if _, ok := errors.AsType[*user.ValidationError](err); ok {
		return &usageError{err: err, usage: c.help(flagsOf(c))}
	}
	return err
}

// exitCode is the process's exit status for run's error: 0 for none, 2
// for a usage error, 1 for any other.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if _, ok := errors.AsType[*usageError](err); ok {
		return 2
	}
	return 1
}

// wantsHelp reports whether args ask for help: -h, -help or --help before
// any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// parse reads args into fs for c and returns the positional arguments.
// Flags may come before or after them; "--" ends the flags. When args ask
// for help, c's help goes to stdout and done is true; an undefined flag or
// a bad value is a usageError.
func (c command) parse(fs *flag.FlagSet, args []string, stdout io.Writer) (positional []string, done bool, err error) {
	fs.SetOutput(io.Discard)
	if wantsHelp(args) {
		_, err := io.WriteString(stdout, c.help(fs))
		return nil, true, err
	}
	rest, afterDash := args, []string(nil)
	if i := slices.Index(args, "--"); i >= 0 {
		rest, afterDash = args[:i], args[i+1:]
	}
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, false, &usageError{err: fmt.Errorf("%s: %w", c.name, err), usage: c.help(fs)}
		}
		if rest = fs.Args(); len(rest) == 0 {
			return append(positional, afterDash...), false, nil
		}
		positional, rest = append(positional, rest[0]), rest[1:]
	}
}

// parseVerb reads args of c, a command of one action among verbs
// (`migrate up`): the action first, then the flags fs defines. A missing,
// unknown or repeated action is a usageError.
func (c command) parseVerb(fs *flag.FlagSet, args []string, stdout io.Writer, verbs ...string) (verb string, done bool, err error) {
	if wantsHelp(args) {
		_, done, err = c.parse(fs, args, stdout)
		return "", done, err
	}
	if len(args) == 0 || !slices.Contains(verbs, args[0]) {
		got := "nothing"
		if len(args) > 0 {
			got = fmt.Sprintf("%q", args[0])
		}
		return "", false, c.misuse(fs, "%s needs one of %s, got %s", c.name, strings.Join(verbs, ", "), got)
	}
	more, done, err := c.parse(fs, args[1:], stdout)
	if done || err != nil {
		return "", done, err
	}
	if len(more) > 0 {
		return "", false, c.misuse(fs, "%s %s takes no more arguments, got %q", c.name, args[0], more[0])
	}
	return args[0], false, nil
}
