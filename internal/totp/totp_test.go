package totp_test

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/usersvc/usersvc/internal/totp"
)

func TestMatchAcceptsOneStepOfDriftAndNoMore(t *testing.T) {
	c := totp.New("usersvc")
	key, err := c.NewKey("ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key.URI, "otpauth://totp/usersvc:ada@example.com?") || !strings.Contains(key.URI, "secret="+key.Secret) {
		t.Errorf("URI = %q, want an otpauth://totp URI with the issuer, account and secret", key.URI)
	}
	if _, err := png.Decode(bytes.NewReader(key.QRCode)); err != nil {
		t.Errorf("QR code is not a PNG: %v", err)
	}
	at := time.Date(2026, 12, 5, 21, 0, 10, 0, time.UTC)
	step := at.Unix() / totp.Period
	for _, tt := range []struct {
		name  string
		drift int64
		ok    bool
	}{
		{"now", 0, true}, {"one step behind", -1, true}, {"one step ahead", 1, true},
		{"two steps behind", -2, false}, {"two steps ahead", 2, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, err := pqtotp.GenerateCodeCustom(key.Secret, at.Add(time.Duration(tt.drift)*totp.Period*time.Second),
				pqtotp.ValidateOpts{Period: totp.Period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := c.Match(key.Secret, code, at)
			if ok != tt.ok || (ok && got != step+tt.drift) {
				t.Errorf("Match = %d, %v; want %d, %v", got, ok, step+tt.drift, tt.ok)
			}
		})
	}
	for _, code := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := c.Match(key.Secret, code, at); ok {
			t.Errorf("Match(%q) = true, want false", code)
		}
	}
}

// QRCode makes from a key's URI the QR code NewKey made with it, so that
// a page can show a key again from its URI; anything else is refused.
func TestQRCodeOfAKeysURIIsTheKeysQRCode(t *testing.T) {
	key, err := totp.New("usersvc").NewKey("ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	qr, err := totp.QRCode(key.URI)
	if err != nil || !bytes.Equal(qr, key.QRCode) {
		t.Errorf("QRCode(URI): %d bytes, %v; want the key's own %d", len(qr), err, len(key.QRCode))
	}
	if qr, err := totp.QRCode("%zz not a URI"); err == nil {
		t.Errorf("QRCode of no URI: %d bytes, want an error", len(qr))
	}
}
