package signing_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
)

// forger is a security.KeySource of one key pair the ring never made: what
// someone who can write the signing_keys table, but holds no
// key-encryption key, would sign with.
type forger struct {
	kid  string
	priv ed25519.PrivateKey
}

func (f forger) SigningKey() (string, any, error)    { return f.kid, f.priv, nil }
func (f forger) VerificationKey(string) (any, error) { return f.priv.Public(), nil }
func issueWith(t *testing.T, keys security.KeySource, c *clock) string {
	t.Helper()
	tokens, err := security.NewSigned(security.EdDSA, keys, "usersvc", ttl, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := tokens.Issue(security.Claims{UserID: uuid.Must(uuid.NewV7()), Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// rolledKey is a key made by a replica deployed with the key-encryption
// key changed in one roll (a new key 8, the old key 7 as previous): sealed
// under a key the replicas not yet rolled lack. It returns the key's id
// and a token of it.
func rolledKey(t *testing.T, repo signing.Repository, c *clock) (string, string) {
	t.Helper()
	sealer, err := signing.NewSealer(bytes.Repeat([]byte{8}, signing.KeyEncryptionKeyBytes), bytes.Repeat([]byte{7}, signing.KeyEncryptionKeyBytes))
	if err != nil {
		t.Fatal(err)
	}
	rolled, err := signing.Open(t.Context(), repo, sealer, signing.Options{Overlap: ttl + time.Minute, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	info, err := rolled.RotateNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.ID, issueWith(t, rolled, c)
}

// forgedKey is a row written by someone who can write the database but
// holds no key-encryption key: their own public key, and a private half
// nobody sealed. Pending (published and verifying at once, signing only
// later), so that only its public half would be needed to accept its
// tokens. It returns the key's id and a token of it for an administrator.
func forgedKey(t *testing.T, repo signing.Repository, c *clock) (string, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	k := signing.StoredKey{
		ID: "FORGEDKEY0000000", Alg: security.EdDSA, Public: der, Private: []byte("sealed by nobody"),
		PublishedAt: c.Now().UTC(), CreatedAt: c.Now().Add(time.Hour).UTC(),
	}
	if err := repo.AddKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	return k.ID, issueWith(t, forger{kid: k.ID, priv: priv}, c)
}

// TestAKeyThatDoesNotOpenIsNeverTrusted is why a reload that meets a
// signing key whose private half does not open fails whole, rather than
// skipping that key and loading its public half: a replica cannot tell a
// key sealed under a key-encryption key it lacks from a row written by
// someone with no key-encryption key at all. The ring stays as it was
// last loaded: it goes on signing with the key it had and verifying the
// keys it had, and neither verifies nor publishes the key it cannot open.
func TestAKeyThatDoesNotOpenIsNeverTrusted(t *testing.T) {
	for name, add := range map[string]func(*testing.T, signing.Repository, *clock) (string, string){
		"sealed under a key-encryption key this replica lacks": rolledKey,
		"written without a key-encryption key":                 forgedKey,
	} {
		t.Run(name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, repo signing.Repository) {
				c := &clock{now: time.Now()}
				f := open(t, repo, security.EdDSA, c) // key-encryption key 7
				kid, _, err := f.ring.SigningKey()
				if err != nil {
					t.Fatal(err)
				}
				before := f.issue(t)
				c.Add(time.Minute) // the new key signs after the first
				unopened, token := add(t, repo, c)

				if err := f.ring.Reload(t.Context()); !errors.Is(err, signing.ErrWrongEncryptionKey) {
					t.Errorf("Reload beside a key that does not open: %v, want ErrWrongEncryptionKey", err)
				}
				c.Add(10 * time.Second) // past MinReload: the unknown kid makes the ring try again
				if _, err := f.tokens.Verify(token); err == nil {
					t.Errorf("a token of %s, whose private half does not open, verifies", unopened)
				}
				if kids := jwksKids(f.ring); !slices.Equal(kids, []string{kid}) {
					t.Errorf("JWKS = %v, want only the key the ring had, %s", kids, kid)
				}
				if got := kidOf(t, f.issue(t)); got != kid {
					t.Errorf("the ring signs with %s, want the key it had, %s", got, kid)
				}
				if _, err := f.tokens.Verify(before); err != nil {
					t.Errorf("the ring refuses a token of the key it had: %v", err)
				}
			})
		})
	}
}
