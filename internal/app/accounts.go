package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/user"
)

// AccountService is a user.Service over db for the commands that create
// accounts (create-admin): the password hasher, policy and audit log of
// serve, and no tokens, mail or limits.
func AccountService(cfg config.Config, db Store, log *slog.Logger) (*user.Service, error) {
	hasher, err := PasswordHasher(cfg)
	if err != nil {
		return nil, err
	}
	return user.NewService(user.Deps{Stores: db.Stores(), Hasher: hasher, Log: log}, Policy(cfg)), nil
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
