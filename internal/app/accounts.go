package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/jobs"
	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/user"
)

// AccountService is a user.Service over db for the commands that create
// accounts (create-admin): the password hasher, policy and audit log of
// serve, no tokens or limits, and the job queue to insert into (never
// worked here): the events of its changes, and their mail, are queued in
// their transactions as serve's are, and a serving process delivers them.
func AccountService(cfg config.Config, db Store, log *slog.Logger) (*user.Service, error) {
	if err := queueInto(cfg, db, log); err != nil {
		return nil, err
	}
	return ReadingService(cfg, db, log)
}

// ReadingService is a user.Service over db for a command that only reads
// (audit prune --dry-run): AccountService without the job queue, whose
// sealer would generate the development key-encryption key (or, with
// HS256, JWT secret) in the data directory.
func ReadingService(cfg config.Config, db Store, log *slog.Logger) (*user.Service, error) {
	hasher, err := PasswordHasher(cfg)
	if err != nil {
		return nil, err
	}
	return user.NewService(user.Deps{Stores: db.Stores(), Hasher: hasher, Log: log}, Policy(cfg)), nil
}

// queueInto makes db's stores queue mail and events through a job queue
// this process only inserts into.
func queueInto(cfg config.Config, db Store, log *slog.Logger) error {
	var sealer *signing.Sealer
	var err error
	if cfg.JWTAlg == security.HS256 {
		var secret []byte
		if secret, err = jwtSecret(cfg, log); err == nil {
			sealer, err = queueSealer(cfg, secret, nil)
		}
	} else {
		sealer, err = keySealer(cfg, log)
	}
	if err != nil {
		return err
	}
	c := jobs.Config{Mailer: notHere{}, Sealer: sealer, Log: log}
	switch db := db.(type) {
	case *postgres.DB:
		q, err := jobs.NewPostgres(db.Pool(), c)
		if err != nil {
			return err
		}
		db.UseOutbox(q.Outbox)
	case *sqlite.DB:
		q, err := jobs.NewSQLite(db.Writer(), c)
		if err != nil {
			return err
		}
		db.UseOutbox(q.Outbox)
	}
	return nil
}

// notHere is the mailer of a queue that is never worked.
type notHere struct{}

func (notHere) Send(context.Context, user.Mail) error {
	return errors.New("this process queues mail, a serving one sends it")
}

// bootstrapAdmin creates the administrator of USERSVC_BOOTSTRAP_ADMIN_*
// when the service has none, at every start (it is idempotent).
func (a *App) bootstrapAdmin(ctx context.Context) error {
	cfg := a.cfg
	if !cfg.BootstrapAdmin() {
		return nil
	}
	created, err := a.svc.BootstrapAdmin(ctx, user.Registration{
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
		a.log.Info("bootstrap administrator created", "username", cfg.BootstrapAdminUsername)
	}
	return nil
}
