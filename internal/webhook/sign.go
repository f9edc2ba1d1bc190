package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed delivery (Standard Webhooks).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret, as the specification writes
// them: whsec_ then the key in standard base64.
const SecretPrefix = "whsec_"

// secretBytes is the size of a generated signing key: 32 random bytes (the
// specification allows 24 to 64).
const secretBytes = 32

// Secret is an endpoint's signing secret, whsec_<base64 key>. It is shown
// once, when made, and stored sealed.
type Secret string

// NewSecret returns a fresh random secret.
func NewSecret() Secret {
	key := make([]byte, secretBytes)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return Secret(SecretPrefix + base64.StdEncoding.EncodeToString(key))
}

// errBadSecret says a stored secret is not whsec_<base64>.
var errBadSecret = errors.New("webhook secret is not whsec_<base64>")

// key is the HMAC key s holds.
func (s Secret) key() ([]byte, error) {
	rest, ok := strings.CutPrefix(string(s), SecretPrefix)
	if !ok {
		return nil, errBadSecret
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) == 0 {
		return nil, errBadSecret
	}
	return key, nil
}

// Sign returns the webhook-signature value of a message: one v1 signature
// (base64 HMAC-SHA256 of "id.timestamp.body") per secret, separated by
// spaces. During a rotation both the new and the previous secret sign, so
// that a receiver still holding the previous one keeps verifying.
func Sign(id string, at time.Time, body []byte, secrets ...Secret) (string, error) {
	ts := strconv.FormatInt(at.Unix(), 10)
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := s.key()
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}

// signedHeaders sets the three Standard Webhooks headers of a message on h.
func signedHeaders(h http.Header, id string, at time.Time, body []byte, secrets ...Secret) error {
	sig, err := Sign(id, at, body, secrets...)
	if err != nil {
		return err
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}
