package webhook

import (
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The signatures are checked with the Standard Webhooks reference library,
// which shares no code with Sign.
func TestSignVerifiesWithTheReferenceLibrary(t *testing.T) {
	secret := NewSecret()
	if !strings.HasPrefix(string(secret), "whsec_") {
		t.Fatalf("secret %q does not start with whsec_", secret)
	}
	body := []byte(`{"id":"evt_1","type":"user.created"}`)
	h := http.Header{}
	if err := signedHeaders(h, "evt_1", time.Now(), body, secret); err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(string(secret))
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("reference verifier refused our signature: %v", err)
	}
	if err := wh.Verify(append(body, ' '), h); err == nil {
		t.Error("reference verifier accepted an altered body")
	}
	other, _ := standardwebhooks.NewWebhook(string(NewSecret()))
	if err := other.Verify(body, h); err == nil {
		t.Error("another secret verified the signature")
	}
}

// During a rotation both secrets sign: a receiver holding either verifies.
func TestSignWithTwoSecretsDuringRotation(t *testing.T) {
	current, previous := NewSecret(), NewSecret()
	body := []byte(`{}`)
	h := http.Header{}
	if err := signedHeaders(h, "msg_2", time.Now(), body, current, previous); err != nil {
		t.Fatal(err)
	}
	if got := len(strings.Fields(h.Get(HeaderSignature))); got != 2 {
		t.Fatalf("webhook-signature holds %d signatures, want 2: %q", got, h.Get(HeaderSignature))
	}
	for _, s := range []Secret{current, previous} {
		wh, _ := standardwebhooks.NewWebhook(string(s))
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("a receiver holding one of the two secrets cannot verify: %v", err)
		}
	}
}

// A known vector from the specification's test suite: secret, id,
// timestamp and body give this exact signature.
func TestSignKnownVector(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		body   = `{"test": 2432232314}`
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	got, err := Sign(id, time.Unix(1614265330, 0), []byte(body), secret)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestSignRefusesAMalformedSecret(t *testing.T) {
	for _, s := range []Secret{"", "whsec_", "nope", "whsec_!!!"} {
		if _, err := Sign("id", time.Now(), nil, s); err == nil {
			t.Errorf("Sign with secret %q: no error", s)
		}
	}
}
