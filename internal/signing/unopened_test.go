package signing_test

import (
	"bytes"
	"context"
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

// retiringForgery is forgedKey placed just before the key that signs, so
// that it counts as retiring: verifying until that key's tokens could
// have expired, and never signing, so that its private half was never
// needed.
func retiringForgery(t *testing.T, repo signing.Repository, c *clock) (string, string) {
	t.Helper()
	keys, err := repo.Keys(t.Context())
	if err != nil || len(keys) != 1 {
		t.Fatalf("Keys() = %d keys, %v; want the one that signs", len(keys), err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	at := keys[0].CreatedAt.Add(-time.Second)
	k := signing.StoredKey{ID: "FORGEDKEY0000000", Alg: security.EdDSA, Public: der, Private: []byte("sealed by nobody"), PublishedAt: at, CreatedAt: at}
	if err := repo.AddKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	return k.ID, issueWith(t, forger{kid: k.ID, priv: priv}, c)
}

// TestAKeyVerifiesOnlyIfItsRowOpens: the public half of a signing key is
// stored in clear, so a key verifies tokens only once its sealed private
// half opens and is that public half's private key, whatever its state.
// A row written by someone who can write the database but holds no
// key-encryption key, as a retiring key beside the one that signs, or
// the signing key's public half replaced by theirs, fails the start and
// the reload (the ring stays as loaded), and none of their tokens
// verifies.
func TestAKeyVerifiesOnlyIfItsRowOpens(t *testing.T) {
	t.Run("a retiring key written without a key-encryption key", func(t *testing.T) { forEachStore(t, testRetiringForgery) })
	t.Run("the signing key's public half replaced", func(t *testing.T) { forEachStore(t, testPublicSwapped) })
}

func testRetiringForgery(t *testing.T, repo signing.Repository) {
	c := &clock{now: time.Now()}
	f := open(t, repo, security.EdDSA, c)
	kid, token := retiringForgery(t, repo, c)
	if err := f.ring.Reload(t.Context()); err == nil {
		t.Error("Reload beside a retiring key that does not open succeeded, want an error")
	}
	if _, err := f.tokens.Verify(token); err == nil {
		t.Errorf("a token of the retiring key %s, whose private half does not open, verifies", kid)
	}
	if _, err := signing.Open(t.Context(), repo, newSealer(t, 7), signing.Options{Overlap: ttl, Now: c.Now}); !errors.Is(err, signing.ErrWrongEncryptionKey) {
		t.Errorf("a start beside it: %v, want ErrWrongEncryptionKey", err)
	}
}

func testPublicSwapped(t *testing.T, repo signing.Repository) {
	c := &clock{now: time.Now()}
	f := open(t, repo, security.EdDSA, c)
	kid, _, err := f.ring.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	swapped := publicSwapped{Repository: repo, kid: kid, public: der}
	r, err := signing.Open(t.Context(), swapped, newSealer(t, 7), signing.Options{Overlap: ttl, Now: c.Now})
	if !errors.Is(err, signing.ErrKeyMismatch) {
		t.Errorf("a start with the signing key's public half replaced: %v, want ErrKeyMismatch", err)
	}
	if r == nil {
		return
	}
	verifier, err := security.NewSigned(security.EdDSA, r, "usersvc", ttl, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifier.Verify(issueWith(t, forger{kid: kid, priv: priv}, c)); err == nil {
		t.Errorf("a token of %s signed with the private key of the replaced public half verifies", kid)
	}
}

// publicSwapped is a Repository whose key kid has another public half:
// the row altered in the database.
type publicSwapped struct {
	signing.Repository
	kid    string
	public []byte
}

func (p publicSwapped) Keys(ctx context.Context) ([]signing.StoredKey, error) {
	keys, err := p.Repository.Keys(ctx)
	for i := range keys {
		if keys[i].ID == p.kid {
			keys[i].Public = p.public
		}
	}
	return keys, err
}
