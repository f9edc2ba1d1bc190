package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/usersvc/usersvc/internal/security"
)

// SecretFile is the name, in the data directory, of the JWT secret that
// development mode generates when none is configured.
const SecretFile = "jwt_secret"

// DevSecret returns the JWT secret kept in dir, creating it (32 random
// bytes, base64, mode 0600) when absent. created says whether it was made
// now, so the caller can warn.
func DevSecret(dir string) (secret []byte, created bool, err error) {
	return devFile(dir, SecretFile)
}

// DevKeyEncryptionKey returns the key encryption key kept in dir, creating
// it (32 random bytes, base64, mode 0600) when absent, as DevSecret does.
func DevKeyEncryptionKey(dir string) (key []byte, created bool, err error) {
	text, created, err := devFile(dir, KeyEncryptionKeyFile)
	if err != nil {
		return nil, false, err
	}
	if key, err = decodeKey(string(text)); err != nil {
		return nil, false, fmt.Errorf("%s %w", filepath.Join(dir, KeyEncryptionKeyFile), err)
	}
	return key, created, nil
}

// ExistingDevKeyEncryptionKey returns the key encryption key kept in dir
// as DevKeyEncryptionKey does, but never creates it: ok is false when dir
// holds none. For the commands that only read, which leave the data
// directory as they found it.
func ExistingDevKeyEncryptionKey(dir string) (key []byte, ok bool, err error) {
	path := filepath.Join(dir, KeyEncryptionKeyFile)
	text, err := readDevFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if key, err = decodeKey(string(text)); err != nil {
		return nil, false, fmt.Errorf("%s %w", path, err)
	}
	return key, true, nil
}

// readDevFile returns the secret kept at path; an error wrapping
// os.ErrNotExist when there is none.
func readDevFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the path is the operator's data directory
	if errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) < security.MinSecretBytes {
		return nil, fmt.Errorf("%s holds %d bytes, fewer than %d: delete it to have a new one made", path, len(b), security.MinSecretBytes)
	}
	return b, nil
}

// devFile returns the secret in dir/name, creating it when absent.
func devFile(dir, name string) (secret []byte, created bool, err error) {
	path := filepath.Join(dir, name)
	b, err := readDevFile(path)
	if err == nil {
		return b, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("create data directory: %w", err)
	}
	secret = []byte(base64.RawURLEncoding.EncodeToString(randomBytes(32)))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- see above
	if errors.Is(err, os.ErrExist) {                                      // another process made it first: use theirs
		secret, _, err = devFile(dir, name)
		return secret, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(secret); err != nil {
		_ = f.Close()
		return nil, false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("write %s: %w", path, err)
	}
	return secret, true, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}
