package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/usersvc/usersvc/internal/breached"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/user"
)

const createAdminUsage = `usage: usersvc create-admin --email EMAIL --username USERNAME [--full-name NAME]

Creates an administrator, asking for the password (typed twice, not echoed)
or reading it from the first line of stdin when stdin is not a terminal.
When an account with that email and username exists, it becomes an
administrator instead (reactivated if needed) and keeps its password: no
password is asked. The password is never a flag or an argument.`

// errPasswordFlag refuses a password on the command line, where the process
// list and the shell history would show it.
var errPasswordFlag = errors.New("create-admin takes no --password: a password in the arguments shows in the process list and the shell history; " +
	"type it when asked, or pipe it on stdin (for example from a secrets manager)")

// maxPasswordLine bounds what is read from a piped stdin.
const maxPasswordLine = 4096

// createAdmin runs `usersvc create-admin`. Like `usersvc keys` it opens the
// configured database as it is: run `usersvc migrate up` (or serve once)
// first.
func createAdmin(ctx context.Context, args, environ []string, stdin io.Reader, stdout io.Writer) error {
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && strings.EqualFold(name, "password") {
			return errPasswordFlag
		}
	}
	fs := flag.NewFlagSet("create-admin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "the administrator's email")
	username := fs.String("username", "", "the administrator's username")
	fullName := fs.String("full-name", "", "the administrator's full name (new accounts only)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n\n%s", err, createAdminUsage)
	}
	if fs.NArg() > 0 || *email == "" || *username == "" {
		// The stray arguments are not repeated: one may be a password.
		return fmt.Errorf("create-admin needs --email and --username and takes no other arguments\n\n%s", createAdminUsage)
	}
	cfg, err := config.Load(environ, dotenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	st, _, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()
	svc, err := accountService(cfg, st)
	if err != nil {
		return err
	}
	u, err := svc.PromoteAdmin(ctx, *email, *username)
	if err == nil {
		_, err = fmt.Fprintf(stdout, "%s (%s) is now an administrator; the password is unchanged\n", u.Username, u.ID)
		return err
	}
	if !errors.Is(err, user.ErrNotFound) {
		return fmt.Errorf("create-admin: %w", err)
	}
	password, err := readPassword(stdin, stdout)
	if err != nil {
		return err
	}
	u, err = svc.CreateAdmin(ctx, user.Registration{Email: *email, Username: *username, Password: password}, *fullName)
	if err != nil {
		return fmt.Errorf("create-admin: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "created administrator %s (%s)\n", u.Username, u.ID)
	return err
}

// accountService is a user.Service for commands that create accounts: the
// password hasher and policy of serve, and no tokens.
func accountService(cfg config.Config, st store) (*user.Service, error) {
	hasher, err := passwordHasher(cfg)
	if err != nil {
		return nil, err
	}
	return user.NewService(st, hasher, nil, user.WithPasswordPolicy(passwordPolicy(cfg))), nil
}

// passwordPolicy is the policy every new password meets.
func passwordPolicy(cfg config.Config) user.PasswordPolicy {
	return user.PasswordPolicy{MinChars: cfg.PasswordMinLength, Breached: breached.Contains}
}

// readPassword asks for the password twice without echo when stdin is a
// terminal, and otherwise reads its first line.
func readPassword(stdin io.Reader, stdout io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) { // #nosec G115 -- a file descriptor fits an int
		return promptPassword(int(f.Fd()), stdout) // #nosec G115 -- as above
	}
	if stdin == nil {
		return "", errors.New("create-admin needs a password: run it at a terminal or pipe the password on stdin")
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, maxPasswordLine)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("create-admin needs a password: stdin gave an empty line")
	}
	return password, nil
}

// promptPassword reads the password twice from the terminal fd.
func promptPassword(fd int, stdout io.Writer) (string, error) {
	var typed [2]string
	for i, prompt := range []string{"Password: ", "Repeat the password: "} {
		fmt.Fprint(stdout, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(stdout)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		typed[i] = string(b)
	}
	if typed[0] != typed[1] {
		return "", errors.New("the two passwords differ")
	}
	if typed[0] == "" {
		return "", errors.New("create-admin needs a password")
	}
	return typed[0], nil
}

// bootstrapAdmin creates the administrator of USERSVC_BOOTSTRAP_ADMIN_*
// when the service has none, at every start (it is idempotent).
func bootstrapAdmin(ctx context.Context, cfg config.Config, svc *user.Service, log *slog.Logger) error {
	if !cfg.BootstrapAdmin() {
		return nil
	}
	created, err := svc.BootstrapAdmin(ctx, user.Registration{
		Email: cfg.BootstrapAdminEmail, Username: cfg.BootstrapAdminUsername, Password: cfg.BootstrapAdminPassword,
	})
	if v, ok := errors.AsType[*user.ValidationError](err); ok {
		return fmt.Errorf("USERSVC_BOOTSTRAP_ADMIN_%s: %s", strings.ToUpper(v.Field), v.Message)
	}
	if errors.Is(err, user.ErrBootstrapConflict) {
		return fmt.Errorf("%s, %s, %s: %w; promote that account with `usersvc create-admin` or change the variables",
			config.EnvBootstrapEmail, config.EnvBootstrapUsername, config.EnvBootstrapPassword, err)
	}
	if err != nil {
		return fmt.Errorf("bootstrap administrator: %w", err)
	}
	if created {
		log.Info("bootstrap administrator created", "username", cfg.BootstrapAdminUsername)
	}
	return nil
}
