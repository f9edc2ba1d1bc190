package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
)

// TestWarningsStayOffStdout: a configuration warning (here an unknown
// USERSVC_ variable, as a typo in a CI job's environment makes) was
// printed on stdout, ahead of what scripts parse: the header of `keys
// list`, the client id and secret of `clients create`. Stdout now holds
// the command's output alone.
func TestWarningsStayOffStdout(t *testing.T) {
	environ := append(databases[0].environ(t), "USERSVC_NO_SUCH_SETTING=1")
	if err := run(context.Background(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args  []string
		first *regexp.Regexp // stdout's first line
	}{
		{[]string{"keys", "list"}, regexp.MustCompile(`^KID +ALG`)},
		{[]string{"clients", "create", "--name", "CI", "--confidential", "--grants", "client_credentials"}, regexp.MustCompile(`^created client \S+ `)},
		{[]string{"clients", "list"}, regexp.MustCompile(`^ID +NAME`)},
		{[]string{"webhooks", "list"}, regexp.MustCompile(`^ID +URL`)},
		{[]string{"retention", "run", "--dry-run"}, regexp.MustCompile(`^table +rows would remove`)},
		{[]string{"audit", "prune", "--older-than", "400d", "--dry-run"}, regexp.MustCompile(`^0 audit events are older than`)},
	} {
		var stdout, stderr bytes.Buffer
		err := runWithStreams(context.Background(), tt.args, environ, nil, &stdout, &stderr)
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if first, _, _ := strings.Cut(stdout.String(), "\n"); !tt.first.MatchString(first) || strings.Contains(stdout.String(), "warning") {
			t.Errorf("%q printed on stdout\n%s\nwant its output alone, starting %q", tt.args, stdout.String(), tt.first)
		}
		if !strings.Contains(stderr.String(), "warning: USERSVC_NO_SUCH_SETTING: unknown") {
			t.Errorf("%q printed on stderr %q, want the warning", tt.args, stderr.String())
		}
	}
}

// TestCommandsSayWhenTheyUseADevelopmentKey: without
// USERSVC_KEY_ENCRYPTION_KEY (development), a command that seals or opens
// something generated or used the development key in USERSVC_DATA_DIR
// and said nothing: its warning went to a discarded log, so an operator
// who forgot the variable (pointing a command at the production
// DATABASE_URL, say) was not told. It is now printed on stderr, never on
// stdout.
func TestCommandsSayWhenTheyUseADevelopmentKey(t *testing.T) {
	environ := databases[0].environ(t)
	if err := run(context.Background(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"keys", "list"},
		{"webhooks", "create", "--url", "https://hooks.example.com/x", "--types", "*"},
		{"keys", "reseal"},
	} {
		var stdout, stderr bytes.Buffer
		if err := runWithStreams(context.Background(), args, environ, nil, &stdout, &stderr); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		const want = "USERSVC_KEY_ENCRYPTION_KEY is not set"
		if !strings.Contains(stderr.String(), want) || strings.Contains(stdout.String(), want) {
			t.Errorf("%q printed on stderr %q and on stdout %q, want %q on stderr alone", args, stderr.String(), stdout.String(), want)
		}
	}
}

// TestInvalidValuesExitTwo: a value the command's rules refuse (an email
// that is not one, a grant or event type that does not exist, a redirect
// URI over plain http) exited 1, as a failure a script may retry, while
// `audit prune` with a date it refuses exits 2, as every other misuse. Each
// now exits 2, naming what is wrong, with the usage; nothing is created.
func TestInvalidValuesExitTwo(t *testing.T) {
	environ := databases[0].environ(t)
	if err := run(context.Background(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"create-admin", "--email", "not-an-email", "--username", "root"}, "a long enough password\n", "email"},
		{[]string{"clients", "create", "--name", "X", "--grants", "telepathy"}, "", "telepathy"},
		{[]string{"clients", "create", "--name", "X", "--redirect-uris", "http://app.example.com/cb"}, "", "redirect_uris"},
		{[]string{"webhooks", "create", "--url", "https://hooks.example.com/x", "--types", "user.hacked"}, "", "user.hacked"},
	} {
		var stdout bytes.Buffer
		err := runWithStreams(context.Background(), tt.args, environ, strings.NewReader(tt.stdin), &stdout, io.Discard)
		var stderr bytes.Buffer
		if code := report(err, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) || !strings.Contains(stderr.String(), "usage: usersvc "+tt.args[0]) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 naming %q, with the usage", tt.args, code, stderr.String(), tt.want)
		}
		if stdout.Len() > 0 {
			t.Errorf("%q printed %q, want nothing done", tt.args, stdout.String())
		}
	}
}
