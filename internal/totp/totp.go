// Package totp is the service's TOTP (RFC 6238) algorithm over
// github.com/pquerna/otp: new secrets with their otpauth:// URI and QR
// code, and code checks that say which time step matched (so that the
// service can refuse a code used once already). It implements
// user.TOTPCodes.
package totp

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/usersvc/usersvc/internal/user"
)

// The parameters every authenticator app takes by default: 30-second
// steps, six digits, HMAC-SHA1, a 160-bit secret.
const (
	Period     = 30
	Digits     = otp.DigitsSix
	SecretSize = 20
	// Skew is how many steps of clock drift a code may have either way.
	Skew = 1
	// qrSize is the QR code's width and height in pixels.
	qrSize = 256
)

// Codes makes secrets and checks codes; issuer is the name apps show
// beside the account.
type Codes struct{ issuer string }

var _ user.TOTPCodes = Codes{}

// New returns Codes naming issuer.
func New(issuer string) Codes { return Codes{issuer: issuer} }

// NewKey implements user.TOTPCodes.
func (c Codes) NewKey(account string) (user.TOTPKey, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: c.issuer, AccountName: account, Period: Period, SecretSize: SecretSize,
		Digits: Digits, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return user.TOTPKey{}, fmt.Errorf("generate TOTP key: %w", err)
	}
	qr, err := qrCode(key)
	if err != nil {
		return user.TOTPKey{}, err
	}
	return user.TOTPKey{Secret: key.Secret(), URI: key.URL(), QRCode: qr}, nil
}

// QRCode is the QR code (PNG) of uri, a key's otpauth:// URI, as NewKey
// makes it: for a page that shows a key again from its URI alone.
func QRCode(uri string) ([]byte, error) {
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return nil, fmt.Errorf("TOTP QR code: %w", err)
	}
	return qrCode(key)
}

// qrCode is key's URI as a QR code, PNG.
func qrCode(key *otp.Key) ([]byte, error) {
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return nil, fmt.Errorf("TOTP QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("TOTP QR code: %w", err)
	}
	return buf.Bytes(), nil
}

// Match implements user.TOTPCodes: it computes the codes of the steps
// around at and compares each with code in constant time, and returns the
// latest step that matches.
func (Codes) Match(secret, code string, at time.Time) (int64, bool) {
	if len(code) != Digits.Length() {
		return 0, false
	}
	now := at.Unix() / Period
	var step int64
	found := 0
	for d := int64(-Skew); d <= Skew; d++ {
		s := now + d
		want, err := Code(secret, time.Unix(s*Period, 0))
		if err != nil {
			return 0, false
		}
		if eq := subtle.ConstantTimeCompare([]byte(want), []byte(code)); eq == 1 {
			step, found = s, 1
		}
	}
	return step, found == 1
}

// Code is the code of secret at at, as an authenticator app shows it.
func Code(secret string, at time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: Period, Digits: Digits, Algorithm: otp.AlgorithmSHA1})
}
