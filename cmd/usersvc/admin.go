package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/user"
)

// errPasswordFlag refuses a password on the command line, where the process
// list and the shell history would show it.
var errPasswordFlag = errors.New("create-admin takes no --password: a password in the arguments shows in the process list and the shell history; " +
	"type it when asked, pipe it on stdin or name a file with --password-file")

// maxPasswordLine bounds what is read from a piped stdin or a password
// file.
const maxPasswordLine = 4096

// adminRequest is what create-admin was asked.
type adminRequest struct {
	email, username, fullName, passwordFile string
	promote                                 bool
}

// createAdminFlags defines create-admin's flags into the request it
// returns.
func createAdminFlags() (*flag.FlagSet, *adminRequest) {
	var r adminRequest
	fs := flag.NewFlagSet("create-admin", flag.ContinueOnError)
	fs.StringVar(&r.email, "email", "", "the administrator's `EMAIL` (required)")
	fs.StringVar(&r.username, "username", "", "the administrator's `USERNAME` (required)")
	fs.StringVar(&r.fullName, "full-name", "", "the administrator's full `NAME` (new accounts only)")
	fs.StringVar(&r.passwordFile, "password-file", "", "read the password from the file at `PATH`")
	fs.BoolVar(&r.promote, "promote-existing", false, "promote the existing account with this email and username")
	return fs, &r
}

// parseCreateAdmin reads create-admin's arguments; done says its help was
// printed to stdout.
func parseCreateAdmin(args []string, stdout io.Writer) (r adminRequest, done bool, err error) {
	fs, req := createAdminFlags()
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && strings.EqualFold(name, "password") {
			return adminRequest{}, false, &usageError{err: errPasswordFlag, usage: createAdminHelp.help(fs)}
		}
	}
	more, done, err := createAdminHelp.parse(fs, args, stdout)
	if done || err != nil {
		return adminRequest{}, done, err
	}
	if len(more) > 0 || req.email == "" || req.username == "" {
		// The stray arguments are not repeated: one may be a password.
		return adminRequest{}, false, createAdminHelp.misuse(fs, "create-admin needs --email and --username and takes no other arguments")
	}
	return *req, false, nil
}

// createAdmin runs `usersvc create-admin`. Like `usersvc keys` it opens the
// configured database as it is: run `usersvc migrate up` (or serve once)
// first.
func createAdmin(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	r, done, err := parseCreateAdmin(args, stdout)
	if done || err != nil {
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
	svc, err := app.AccountService(cfg, db, commandLog(stderr))
	if err != nil {
		return err
	}
	in := passwordSource{file: r.passwordFile, stdin: stdin, prompts: stderr}
	if r.promote {
		return createAdminHelp.refused(promoteAdmin(ctx, svc, r, in, stdout))
	}
	password, err := in.read(true)
	if err != nil {
		return err
	}
	u, err := svc.CreateAdmin(ctx, user.Registration{Email: r.email, Username: r.username, Password: password}, r.fullName)
	if errors.Is(err, user.ErrEmailTaken) || errors.Is(err, user.ErrUsernameTaken) {
		return fmt.Errorf("create-admin: %w: it was left as it is; to make that account an administrator, run create-admin again with --promote-existing", err)
	}
	if err != nil {
		return createAdminHelp.refused(fmt.Errorf("create-admin: %w", err))
	}
	_, err = fmt.Fprintf(stdout, "created administrator %s (%s)\n", u.Username, u.ID)
	return err
}

// promoteAdmin is create-admin --promote-existing.
func promoteAdmin(ctx context.Context, svc *user.Service, r adminRequest, in passwordSource, stdout io.Writer) error {
	password, err := in.read(false)
	if err != nil {
		return err
	}
	u, err := svc.PromoteAdmin(ctx, r.email, r.username, password)
	if errors.Is(err, user.ErrNotFound) {
		return fmt.Errorf("create-admin --promote-existing: no account has the email %s and the username %s", r.email, r.username)
	}
	if err != nil {
		return fmt.Errorf("create-admin --promote-existing: %w", err)
	}
	how := "the password is unchanged"
	if password != "" {
		how = "its password is the one given, and its sessions have ended"
	}
	_, err = fmt.Fprintf(stdout, "%s (%s) is now an administrator; %s\n", u.Username, u.ID, how)
	return err
}

// passwordSource is where create-admin reads a password: a file, the
// terminal, or the first line of stdin. At the terminal it asks on
// prompts (stderr: stdout carries only the command's result, which
// scripts capture).
type passwordSource struct {
	file    string
	stdin   io.Reader
	prompts io.Writer
}

// read returns the password. required says whether none is an error;
// when it is not, nothing at all (no file, a stdin at its end) is "", but
// an empty password given is still an error, never ignored.
func (p passwordSource) read(required bool) (string, error) {
	if p.file != "" {
		return readPasswordFile(p.file)
	}
	if f, ok := p.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) { // #nosec G115 -- a file descriptor fits an int
		return promptPassword(int(f.Fd()), p.prompts, required) // #nosec G115 -- as above
	}
	if p.stdin == nil {
		if required {
			return "", errors.New("create-admin needs a password: run it at a terminal, pipe the password on stdin or use --password-file")
		}
		return "", nil
	}
	line, err := bufio.NewReader(io.LimitReader(p.stdin, maxPasswordLine)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	if line == "" {
		if !required {
			return "", nil // stdin gave nothing at all: no password
		}
		return "", errors.New("create-admin needs a password: stdin was empty: run it at a terminal, pipe the password on stdin or use --password-file")
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("create-admin needs a password: stdin gave an empty line")
	}
	return password, nil
}

// readPasswordFile reads the password in path: its content without the
// trailing newline, which must not be empty.
func readPasswordFile(path string) (string, error) { return readSecretFile("--password-file", path) }

// readSecretFile reads the secret in path, named by the flag that gave
// it: the file's content without the trailing newline, which must not be
// empty. Errors name the path, never the content.
func readSecretFile(flag, path string) (string, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator names the file
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPasswordLine+1))
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", flag, path, err)
	}
	if len(b) > maxPasswordLine {
		return "", fmt.Errorf("%s %s: longer than %d bytes", flag, path, maxPasswordLine)
	}
	secret := strings.TrimRight(string(b), "\r\n")
	if secret == "" {
		return "", fmt.Errorf("%s %s is empty", flag, path)
	}
	return secret, nil
}

// promptPassword reads the password twice from the terminal fd, asking
// on prompts; when it is not required, an empty answer means none.
func promptPassword(fd int, prompts io.Writer, required bool) (string, error) {
	if !required {
		fmt.Fprintln(prompts, "A new password for the account (empty: keep its password; needed when its email is not verified).")
	}
	var typed [2]string
	for i, prompt := range []string{"Password: ", "Repeat the password: "} {
		fmt.Fprint(prompts, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(prompts)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		typed[i] = string(b)
	}
	if typed[0] != typed[1] {
		return "", errors.New("the two passwords differ")
	}
	if typed[0] == "" && required {
		return "", errors.New("create-admin needs a password")
	}
	return typed[0], nil
}
