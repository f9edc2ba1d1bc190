package main

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/config"
)

// TestEveryCommandAnswersHelp: every subcommand, and every action of one,
// answers -h and --help alike, wherever they stand: its usage, its flags and
// the variables it reads, on stdout, with no error (exit status 0), and
// without doing anything (no database is created). An unknown flag is a
// usage error: exit status 2 with the usage on stderr.
func TestEveryCommandAnswersHelp(t *testing.T) {
	for _, tt := range []struct {
		args  []string // the command as typed before the flag
		usage string   // the usage line it prints
		flags []string // flags its help lists besides -h, --help
		vars  []string // variables its help names (some of)
	}{
		{[]string{"serve"}, "usage: usersvc [serve]", nil, []string{"USERSVC_ADDR", "USERSVC_OPS_ADDR", "DATABASE_URL", "USERSVC_JWT_SECRET"}},
		{[]string{"migrate"}, "usage: usersvc migrate up|down|status", []string{"--yes"}, []string{"DATABASE_URL", "USERSVC_DATA_DIR"}},
		{[]string{"migrate", "up"}, "usage: usersvc migrate up|down|status", []string{"--yes"}, []string{"DATABASE_URL"}},
		{[]string{"migrate", "status"}, "usage: usersvc migrate up|down|status", []string{"--yes"}, []string{"DATABASE_URL"}},
		{[]string{"keys"}, "usage: usersvc keys rotate [--now] | retire KID | list", []string{"--now"}, []string{"USERSVC_KEY_ENCRYPTION_KEY", "USERSVC_JWT_ALG"}},
		{[]string{"keys", "rotate"}, "usage: usersvc keys rotate [--now] | retire KID | list", []string{"--now"}, []string{"USERSVC_KEY_ENCRYPTION_KEY", "USERSVC_KEY_PUBLISH_DELAY"}},
		{[]string{"keys", "retire"}, "usage: usersvc keys rotate [--now] | retire KID | list", nil, []string{"USERSVC_KEY_ENCRYPTION_KEY"}},
		{[]string{"webhooks"}, "usage: usersvc webhooks list", []string{"--url", "--types"}, []string{"USERSVC_WEBHOOK_ALLOW_PRIVATE"}},
		{[]string{"webhooks", "create"}, "usage: usersvc webhooks list", []string{"--url", "--types"}, []string{"USERSVC_WEBHOOK_ALLOW_PRIVATE"}},
		{[]string{"clients"}, "usage: usersvc clients list", []string{"--name", "--redirect-uris", "--grants", "--scopes", "--first-party"}, []string{"DATABASE_URL"}},
		{[]string{"clients", "create"}, "usage: usersvc clients list", []string{"--name", "--confidential"}, []string{"DATABASE_URL"}},
		{[]string{"clients", "rotate-secret"}, "usage: usersvc clients list", []string{"--name"}, []string{"DATABASE_URL"}},
		{[]string{"create-admin"}, "usage: usersvc create-admin", []string{"--email EMAIL", "--username USERNAME", "--full-name NAME", "--password-file PATH", "--promote-existing"}, []string{"DATABASE_URL", "USERSVC_BCRYPT_COST"}},
		{[]string{"create-admin", "--email", "a@example.com"}, "usage: usersvc create-admin", []string{"--email EMAIL"}, []string{"DATABASE_URL"}},
		{[]string{"audit"}, "usage: usersvc audit prune", []string{"--before DATE", "--older-than AGE", "--dry-run"}, []string{"DATABASE_URL", "USER"}},
		{[]string{"audit", "prune"}, "usage: usersvc audit prune", []string{"--before DATE", "--older-than AGE", "--dry-run"}, []string{"DATABASE_URL"}},
		{[]string{"audit", "prune", "--before", "2020-01-01"}, "usage: usersvc audit prune", []string{"--dry-run"}, []string{"DATABASE_URL"}},
		{[]string{"healthcheck"}, "usage: usersvc healthcheck [URL]", nil, []string{"USERSVC_ADDR"}},
		{[]string{"healthcheck", "http://127.0.0.1:1/healthz"}, "usage: usersvc healthcheck [URL]", nil, []string{"USERSVC_ADDR"}},
		{[]string{"version"}, "usage: usersvc version", nil, nil},
	} {
		name := strings.Join(tt.args, " ")
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			environ := []string{"USERSVC_DATA_DIR=" + dir}
			var first string
			for _, h := range []string{"-h", "--help", "-help"} {
				var out bytes.Buffer
				err := run(context.Background(), append(slices.Clone(tt.args), h), environ, &out)
				if err != nil || exitCode(err) != 0 {
					t.Fatalf("%s %s = %v (exit %d), want its help and exit 0", name, h, err, exitCode(err))
				}
				help := out.String()
				if first == "" {
					first = help
				} else if help != first {
					t.Errorf("%s %s printed\n%s\nwhile -h printed\n%s\nwant the same", name, h, help, first)
				}
				want := append([]string{tt.usage, "-h, --help", "\nenvironment:\n"}, tt.flags...)
				for _, w := range append(want, tt.vars...) {
					if !strings.Contains(help, w) {
						t.Errorf("%s %s printed\n%s\nwant it to contain %q", name, h, help, w)
					}
				}
			}
			var byHelp bytes.Buffer // `usersvc help NAME` is the same help
			if err := run(context.Background(), []string{"help", tt.args[0]}, environ, &byHelp); err != nil || byHelp.String() != first {
				t.Errorf("help %s = %v, printed\n%s\nwant what --help prints", tt.args[0], err, byHelp.String())
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("%s --help created %v in the data directory, want nothing done", name, entries)
			}
			err := run(context.Background(), append(slices.Clone(tt.args), "--no-such-flag"), environ, &bytes.Buffer{})
			var stderr bytes.Buffer
			if code := report(err, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.usage) || !strings.Contains(stderr.String(), "no-such-flag") {
				t.Errorf("%s --no-such-flag: exit %d, stderr\n%s\nwant exit 2, the flag named and the usage", name, code, stderr.String())
			}
		})
	}
}

// TestOverviewListsEveryAction: `usersvc help` lists every action each
// command takes (it left out `keys reseal`, which the README lists, so an
// operator rotating the key-encryption key could not find it there).
func TestOverviewListsEveryAction(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, []string{"USERSVC_DATA_DIR=" + t.TempDir()}, &out); err != nil {
		t.Fatalf("help = %v", err)
	}
	for _, action := range []string{
		"serve", "migrate up|down|status", "create-admin", "keys rotate", "keys retire", "keys list", "keys reseal",
		"audit prune", "retention run", "webhooks list|create|delete", "clients list|create|delete|rotate-secret",
		"healthcheck", "version", "help",
	} {
		if !strings.Contains(out.String(), "\n  "+action) {
			t.Errorf("usersvc help printed\n%s\nwant a line for %q", out.String(), action)
		}
	}
}

// TestHelpNamesRealVariables: every variable a command's help names is one
// the configuration reads (or the operator's USER and LOGNAME).
func TestHelpNamesRealVariables(t *testing.T) {
	known := config.Variables()
	for name, c := range commands() {
		for _, v := range c.env {
			if !slices.Contains(known, v) && v != "USER" && v != "LOGNAME" {
				t.Errorf("the help of %s names %s, which the configuration does not read", name, v)
			}
		}
	}
}

// TestUsageErrorsExitTwo: an unknown command, or a command without its
// action, exits 2 with the usage on stderr; a failure that is not a usage
// error exits 1.
func TestUsageErrorsExitTwo(t *testing.T) {
	environ := []string{"USERSVC_DATA_DIR=" + t.TempDir()}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, 2, "usage: usersvc [command]"},
		{[]string{"help", "frobnicate"}, 2, "usage: usersvc [command]"},
		{[]string{"migrate"}, 2, "usage: usersvc migrate"},
		{[]string{"keys", "burn"}, 2, "usage: usersvc keys"},
		{[]string{"keys", "retire"}, 2, "keys retire takes one key id"},
		{[]string{"keys", "retire", "a", "b"}, 2, "keys retire takes one key id"},
		{[]string{"keys", "list", "--now"}, 2, "keys list takes no --now"},
		{[]string{"webhooks", "create", "--url", "https://a.example/h"}, 2, "needs --url and --types"},
		{[]string{"webhooks", "delete"}, 2, "takes one endpoint id"},
		{[]string{"clients", "create"}, 2, "needs --name"},
		{[]string{"clients", "delete"}, 2, "takes one client id"},
		{[]string{"clients", "rotate-secret", "a", "b"}, 2, "takes one client id"},
		{[]string{"clients", "burn"}, 2, "burn"},
		{[]string{"webhooks", "delete", "nope"}, 2, "is not an endpoint id"},
		{[]string{"audit", "purge"}, 2, "usage: usersvc audit prune"},
		{[]string{"version", "now"}, 2, "usage: usersvc version"},
		{[]string{"serve", "extra"}, 2, "usage: usersvc [serve]"},
		{[]string{"keys", "list"}, 1, "HS256"},
	} {
		err := run(context.Background(), tt.args, append(environ, "USERSVC_JWT_ALG=HS256"), &bytes.Buffer{})
		var stderr bytes.Buffer
		if code := report(err, &stderr); code != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("usersvc %q: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr.String(), tt.code, tt.want)
		}
	}
}
