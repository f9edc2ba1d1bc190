package user

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Device tokens (OWASP's device cookies): a successful login hands the
// client a token signed by the service that names the account and a
// random device id. A later login of that account presenting it is
// counted and locked out per device, so failures from anywhere else (an
// attacker guessing, or keeping the account locked) never lock its owner's
// devices out. It proves nothing beyond "this client once logged in to
// this account": it is never a credential.
//
// A token issued by the second step of a login (mfa_login.go) says so: only
// such a device is counted on its own at the second step of a later login.
// Any other device's wrong codes count against the account, or every
// device token collected with the password alone, before the account had
// a second factor, would be a lockout count of its own for guessing codes.

// DeviceTokenTTL is how long a device token is recognised after it was
// issued.
const DeviceTokenTTL = 365 * 24 * time.Hour

// The prefixes of device tokens, naming their format: a password login's,
// and a second step's (the device proved the account's second factor).
const (
	deviceTokenPrefix   = "d1."
	deviceTokenPrefixMF = "d2."
)

// deviceTokenLen is the size of a device token's payload: the account id,
// the issue time (Unix seconds) and the device id.
const deviceTokenLen = 16 + 8 + 16

// newDeviceToken returns a device token for the account id, issued now,
// by a login that proved the account's second factor (secondFactor) or
// not.
func (s *Service) newDeviceToken(id uuid.UUID, now time.Time, secondFactor bool) string {
	payload := make([]byte, 0, deviceTokenLen)
	payload = append(payload, id[:]...)
	payload = binary.BigEndian.AppendUint64(payload, uint64(now.Unix())) // #nosec G115 -- after 1970
	device := make([]byte, 16)
	_, _ = rand.Read(device) // never fails (crypto/rand documents so)
	payload = append(payload, device...)
	prefix := deviceTokenPrefix
	if secondFactor {
		prefix = deviceTokenPrefixMF
	}
	enc := base64.RawURLEncoding
	return prefix + enc.EncodeToString(payload) + "." + enc.EncodeToString(s.deviceMAC(prefix, payload))
}

// deviceMAC signs a device token's payload, of the format of prefix,
// under the service's secret.
func (s *Service) deviceMAC(prefix string, payload []byte) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("usersvc device token\x00"))
	if prefix != deviceTokenPrefix { // d1's MAC stays what it was
		m.Write([]byte(prefix))
	}
	m.Write(payload)
	return m.Sum(nil)
}

// deviceOf returns the device id of token when it is a device token the
// service issued for the account id within DeviceTokenTTL of now, "" for
// anything else (no token, a forged one, another account's, an old one),
// and whether it was issued by a second step (secondFactor).
func (s *Service) deviceOf(token string, id uuid.UUID, now time.Time) (device string, secondFactor bool) {
	prefix := deviceTokenPrefixMF
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok {
		prefix = deviceTokenPrefix
		rest, ok = strings.CutPrefix(token, prefix)
	}
	if !ok || len(token) > 128 {
		return "", false
	}
	p, sig, ok := strings.Cut(rest, ".")
	payload, err1 := base64.RawURLEncoding.Strict().DecodeString(p)
	mac, err2 := base64.RawURLEncoding.Strict().DecodeString(sig)
	if !ok || err1 != nil || err2 != nil || len(payload) != deviceTokenLen || !hmac.Equal(mac, s.deviceMAC(prefix, payload)) {
		return "", false
	}
	if uuid.UUID(payload[:16]) != id {
		return "", false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(payload[16:24])), 0) // #nosec G115 -- written by newDeviceToken
	if now.Sub(issued) > DeviceTokenTTL || issued.After(now.Add(time.Minute)) {
		return "", false
	}
	return hex.EncodeToString(payload[24:]), prefix == deviceTokenPrefixMF
}
