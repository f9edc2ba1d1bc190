package app_test

import (
	"context"
	"errors"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/user"
)

// memoryStore serves a fake's ports as an app.Store, for HS256 and no
// migrations.
type memoryStore struct {
	fake interface{ Stores() user.Stores }
}

func (s memoryStore) Stores() user.Stores                             { return s.fake.Stores() }
func (s memoryStore) SigningKeys() signing.Repository                 { return nil }
func (s memoryStore) Migrator() (*goose.Provider, error)              { return nil, errors.New("no migrations") }
func (s memoryStore) Ping(context.Context) error                      { return nil }
func (s memoryStore) HasMigrationTable(context.Context) (bool, error) { return false, nil }
func (s memoryStore) AppliedMigrations(context.Context) (map[int64]time.Time, error) {
	return nil, nil
}
func (s memoryStore) Close() error { return nil }
