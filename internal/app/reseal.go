package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/jobs"
	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/sqlite"
)

// sealedStore is a Store that says where it keeps values sealed under
// the key-encryption key: both databases do.
type sealedStore interface {
	SealedColumns() []signing.SealedKind
}

// ErrNoKeyEncryptionKey is `usersvc keys reseal` in production without
// USERSVC_KEY_ENCRYPTION_KEY: nothing is sealed with a key that is not.
var ErrNoKeyEncryptionKey = errors.New("USERSVC_KEY_ENCRYPTION_KEY is not set: there is nothing sealed to reseal")

// ErrResealDuringFirstRoll is `usersvc keys reseal` with
// USERSVC_KEY_ENCRYPTION_KEY_NEXT set: the reseal seals under the new key,
// so it runs with the new key as USERSVC_KEY_ENCRYPTION_KEY once every
// replica seals with it; run now it would seal under the old one.
var ErrResealDuringFirstRoll = errors.New("USERSVC_KEY_ENCRYPTION_KEY_NEXT is set: reseal after the second roll, with the new key as USERSVC_KEY_ENCRYPTION_KEY and the old one as USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS, as every replica then runs")

// Reseal seals every value db keeps under the key-encryption key or the
// previous one (USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS) again under the
// key-encryption key, and counts them by kind (signing.Reseal: it
// refuses, changing nothing, when a value opens with neither). Afterwards
// the previous key can be dropped. With EdDSA/ES256 it first makes sure
// the service key is stored (as serve does), so that it is resealed
// rather than derived anew from the new key.
func Reseal(ctx context.Context, cfg config.Config, db Store, log *slog.Logger) ([]signing.ResealCount, error) {
	if cfg.KeyEncryptionKey == "" && cfg.Env == config.Production {
		return nil, ErrNoKeyEncryptionKey
	}
	if cfg.KeyEncryptionKeyNext != "" {
		return nil, ErrResealDuringFirstRoll
	}
	sealer, err := keySealer(cfg, log)
	if err != nil {
		return nil, err
	}
	ss, ok := db.(sealedStore)
	if !ok {
		return nil, errors.New("this store keeps nothing sealed")
	}
	kinds := ss.SealedColumns()
	if cfg.JWTAlg != security.HS256 { // with HS256 the queue seals under the JWT secret
		if err := storeServiceKey(ctx, cfg, db, log, sealer, kinds); err != nil {
			return nil, err
		}
		if mail := mailTokens(db); mail != nil {
			kinds = append(kinds, signing.SealedKind{Name: signing.KindQueuedMail, Column: mail})
		}
	}
	return signing.Reseal(ctx, sealer, kinds, signing.ResealBatch)
}

// storeServiceKey stores the service key if none is, as serve does, once
// the signing keys are seen to open (serve opens them first). When they
// do not, or the service key opens with neither key, it does nothing:
// Reseal's check counts them and refuses.
func storeServiceKey(ctx context.Context, cfg config.Config, db Store, log *slog.Logger, sealer *signing.Sealer, kinds []signing.SealedKind) error {
	for _, k := range kinds {
		if k.Name != signing.KindSigningKeys {
			continue
		}
		err := signing.CheckSealed(ctx, sealer, []signing.SealedKind{k}, signing.ResealBatch)
		if _, unopenable := errors.AsType[*signing.UnopenableError](err); unopenable {
			return nil
		}
		if err != nil {
			return err
		}
	}
	_, err := serviceKey(ctx, cfg, db, log, sealer)
	if err != nil && !errors.Is(err, signing.ErrServiceKeyWrongEncryptionKey) {
		return err
	}
	return nil
}

// mailTokens is the queued mail's sealed tokens in db's job table, nil
// without one.
func mailTokens(db Store) signing.SealedColumn {
	switch db := db.(type) {
	case *postgres.DB:
		return jobs.MailTokensPostgres(db.Pool())
	case *sqlite.DB:
		return jobs.MailTokensSQLite(db.Writer())
	}
	return nil
}

// ownKindsChecked are the sealed values CheckKeyEncryptionKey opens: a
// few rows each, and every deployment that has sealed anything has some.
var ownKindsChecked = []string{signing.KindSigningKeys, signing.KindServiceKey, signing.KindWebhookSecrets}

// ErrForeignKeyEncryptionKey is a command about to seal something new
// under a key-encryption key that does not open what the deployment
// sealed already: the service could not open what it would seal.
var ErrForeignKeyEncryptionKey = errors.New("USERSVC_KEY_ENCRYPTION_KEY (nor USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS or USERSVC_KEY_ENCRYPTION_KEY_NEXT) is not the key the service's data is sealed with: set the deployment's key (without it, a development key in USERSVC_DATA_DIR is used)")

// CheckKeyEncryptionKey makes sure, only reading, that the configured
// key-encryption keys open what db keeps sealed in its small tables (the
// signing keys, the service key, the webhook secrets), before a command
// seals something new (`usersvc webhooks create`): run with another key
// (a development key generated beside a command pointed at the
// production database, a stale one), it would seal where the service
// cannot open. Production without a key-encryption key is not checked:
// it seals nothing.
func CheckKeyEncryptionKey(ctx context.Context, cfg config.Config, db Store, log *slog.Logger) error {
	ss, ok := db.(sealedStore)
	if !ok || (cfg.KeyEncryptionKey == "" && cfg.Env == config.Production) {
		return nil
	}
	sealer, err := keySealer(cfg, log)
	if err != nil {
		return err
	}
	kinds := slices.DeleteFunc(ss.SealedColumns(), func(k signing.SealedKind) bool { return !slices.Contains(ownKindsChecked, k.Name) })
	err = signing.CheckSealed(ctx, sealer, kinds, signing.ResealBatch)
	if u, foreign := errors.AsType[*signing.UnopenableError](err); foreign {
		var opened []string
		for _, c := range u.Counts {
			opened = append(opened, fmt.Sprintf("%d %s", c.Resealed, c.Kind))
		}
		return fmt.Errorf("%w; sealed with another key: %s", ErrForeignKeyEncryptionKey, strings.Join(opened, ", "))
	}
	return err
}
