package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
)

// keyReloadEvery is how often a serving replica rereads the signing keys,
// so that a rotation made anywhere reaches it without a restart.
const keyReloadEvery = 30 * time.Second

// tokenKeys is what serving needs of the signing setup: the token issuer
// and verifier, and the key set /.well-known/jwks.json publishes.
type tokenKeys struct {
	tokens *security.JWT
	jwks   func() jose.JSONWebKeySet
	ring   *signing.Ring // nil with HS256
}

// newTokenKeys sets up token signing as USERSVC_JWT_ALG says: HS256 with
// the shared secret (nothing to publish), or EdDSA/ES256 with the key ring
// in the database, its first key made now when there is none.
func newTokenKeys(ctx context.Context, cfg config.Config, st store, log *slog.Logger) (tokenKeys, error) {
	opts := []security.TokenOption{security.WithAudience(cfg.JWTAudience), security.WithLeeway(cfg.JWTLeeway)}
	if cfg.JWTAlg == config.AlgHS256 {
		secret, err := jwtSecret(cfg, log)
		if err != nil {
			return tokenKeys{}, err
		}
		tokens, err := security.NewHS256(secret, cfg.JWTIssuer, cfg.AccessTokenTTL, time.Now, opts...)
		empty := func() jose.JSONWebKeySet { return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}} }
		return tokenKeys{tokens: tokens, jwks: empty}, err
	}
	ring, err := openRing(ctx, cfg, st, log)
	if err != nil {
		return tokenKeys{}, err
	}
	tokens, err := security.NewSigned(cfg.JWTAlg, ring, cfg.JWTIssuer, cfg.AccessTokenTTL, time.Now, opts...)
	return tokenKeys{tokens: tokens, jwks: ring.JWKS, ring: ring}, err
}

// openRing opens the key ring of cfg's algorithm on st's database.
func openRing(ctx context.Context, cfg config.Config, st store, log *slog.Logger) (*signing.Ring, error) {
	kek, err := keyEncryptionKey(cfg, log)
	if err != nil {
		return nil, err
	}
	sealer, err := signing.NewSealer(kek)
	if err != nil {
		return nil, err
	}
	ring, err := signing.Open(ctx, st.SigningKeys(), sealer, signing.Options{
		Alg: cfg.JWTAlg,
		// A key verifies until every token it signed has expired: tokens
		// live AccessTokenTTL, are accepted JWTLeeway longer, and a replica
		// may sign with the old key until its next reload.
		Overlap:     cfg.AccessTokenTTL + cfg.JWTLeeway + keyReloadEvery,
		ReloadEvery: keyReloadEvery,
		// A token naming an unknown kid rereads the keys at most this often:
		// prompt after a rotation, one cheap query a second at worst under
		// forged kids.
		MinReload: time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return ring, nil
}

// keyEncryptionKey is the configured key or, in development, one generated
// and kept in the data directory.
func keyEncryptionKey(cfg config.Config, log *slog.Logger) ([]byte, error) {
	if cfg.KeyEncryptionKey != "" {
		return cfg.KeyEncryptionKeyBytes()
	}
	key, created, err := config.DevKeyEncryptionKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.DataDir, config.KeyEncryptionKeyFile)
	if created {
		log.Warn("USERSVC_KEY_ENCRYPTION_KEY is not set: generated a development key; set USERSVC_KEY_ENCRYPTION_KEY in production", "file", path)
	} else {
		log.Warn("USERSVC_KEY_ENCRYPTION_KEY is not set: using the development key", "file", path)
	}
	return key, nil
}

// keys runs `usersvc keys rotate|list`.
func keys(ctx context.Context, args, environ []string, stdout io.Writer) error {
	if len(args) != 1 || (args[0] != "rotate" && args[0] != "list") {
		return errors.New("usage: usersvc keys rotate|list")
	}
	cfg, err := config.Load(environ, dotenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if cfg.JWTAlg == config.AlgHS256 {
		return errors.New("USERSVC_JWT_ALG=HS256 signs with USERSVC_JWT_SECRET: there are no stored keys to rotate or list")
	}
	st, _, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ring, err := openRing(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	if args[0] == "rotate" {
		info, err := ring.Rotate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new signing key %s (%s); other replicas sign with it within %s\n", info.ID, info.Alg, keyReloadEvery)
	}
	return listKeys(stdout, ring.List())
}

func listKeys(stdout io.Writer, list []signing.Info) error {
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KID\tALG\tCREATED\tSTATE\tRETIRES")
	for _, k := range list {
		retires := "-"
		if !k.RetiresAt.IsZero() {
			retires = k.RetiresAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Alg, k.CreatedAt.UTC().Format(time.RFC3339), k.State, retires)
	}
	return w.Flush()
}
