package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// MaxSecretFileBytes bounds a NAME_FILE's content: a secret is short, and
// a wrong path (a log, a device) must not be read whole.
const MaxSecretFileBytes = 64 << 10

// readSecretFiles sets each secret variable that is unset but whose
// NAME_FILE names a file to that file's content, trailing newlines trimmed.
// Both set is an error naming both; so is a file that cannot be read, is
// empty or too large, named with its path, never its content.
func readSecretFiles(vars map[string]string) error {
	var errs []error
	for _, v := range variables() {
		fileVar := v.name + FileSuffix
		path := vars[fileVar]
		if v.secret == "" || path == "" {
			continue
		}
		if vars[v.name] != "" {
			errs = append(errs, fmt.Errorf("%s and %s: both are set; set only one (%s, the path of a file holding the value, keeps it out of the environment)", v.name, fileVar, fileVar))
			continue
		}
		value, err := readSecretFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", fileVar, err))
			continue
		}
		vars[v.name] = value
	}
	return errors.Join(errs...)
}

func readSecretFile(path string) (string, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator names the file
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", path, pathCause(err))
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretFileBytes+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("cannot read %s: %w", path, pathCause(err))
	case len(b) > MaxSecretFileBytes:
		return "", fmt.Errorf("%s is larger than %d bytes: is it the right file?", path, MaxSecretFileBytes)
	}
	value := strings.TrimRight(string(b), "\r\n")
	if value == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return value, nil
}

// pathCause drops the path an *fs.PathError repeats (the message names it
// once already).
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
