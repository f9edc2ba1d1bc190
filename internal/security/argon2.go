package security

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2Params are argon2id's cost settings.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// OWASPArgon2 are the parameters the OWASP Password Storage Cheat Sheet
// lists first for argon2id: 19 MiB, 2 passes, 1 lane.
var OWASPArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const (
	argon2Prefix  = "$argon2id$"
	argon2SaltLen = 16
	argon2KeyLen  = 32
)

// Argon2id hashes passwords with argon2id and stores them in the PHC string
// format ($argon2id$v=19$m=19456,t=2,p=1$salt$key), which carries its own
// parameters, so hashes made with other settings keep verifying.
type Argon2id struct {
	p Argon2Params
}

// NewArgon2id returns a hasher with p, which must be within sane bounds.
func NewArgon2id(p Argon2Params) (*Argon2id, error) {
	if p.MemoryKiB < 8*1024 || p.MemoryKiB > 4<<20 || p.Time < 1 || p.Time > 100 || p.Threads < 1 {
		return nil, fmt.Errorf("argon2id parameters m=%d t=%d p=%d are outside m=8192..4194304 KiB, t=1..100, p>=1",
			p.MemoryKiB, p.Time, p.Threads)
	}
	return &Argon2id{p: p}, nil
}

// Hash returns the PHC string of password under a fresh random salt.
func (a *Argon2id) Hash(password string) (string, error) {
	salt := make([]byte, argon2SaltLen)
	_, _ = rand.Read(salt) // never fails (crypto/rand documents so)
	key := argon2.IDKey([]byte(password), salt, a.p.Time, a.p.MemoryKiB, a.p.Threads, argon2KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s", argon2Prefix, argon2.Version,
		a.p.MemoryKiB, a.p.Time, a.p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches an argon2id hash, comparing the
// keys in constant time. Other hashes never match.
func (a *Argon2id) Verify(hash, password string) bool {
	p, salt, key, err := parseArgon2(hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key))) //nolint:gosec // parseArgon2 bounds len(key) to 16..64
	return subtle.ConstantTimeCompare(got, key) == 1
}

// NeedsRehash reports whether hash is not argon2id with a's parameters.
func (a *Argon2id) NeedsRehash(hash string) bool {
	p, _, key, err := parseArgon2(hash)
	return err != nil || p != a.p || len(key) != argon2KeyLen
}

var errArgon2Format = errors.New("not an argon2id PHC string")

func parseArgon2(hash string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(hash, "$") // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, errArgon2Format
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &threads); err != nil ||
		threads < 1 || threads > 255 || p.Time < 1 || p.MemoryKiB < 8*threads || p.MemoryKiB > 4<<20 {
		return p, nil, nil, errArgon2Format
	}
	p.Threads = uint8(threads)
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errArgon2Format
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errArgon2Format
	}
	return p, salt, key, nil
}

// NeedsRehash reports whether hash is not bcrypt at b's cost.
func (b *Bcrypt) NeedsRehash(hash string) bool {
	cost, err := bcrypt.Cost([]byte(hash))
	return err != nil || cost != b.cost
}

// PasswordHasher hashes with one scheme and knows its own hashes.
type PasswordHasher interface {
	Hash(password string) (string, error)
	Verify(hash, password string) bool
	NeedsRehash(hash string) bool
}

// Passwords hashes new passwords with the current scheme and verifies
// hashes of every scheme it knows (bcrypt and argon2id), so that switching
// the scheme or its cost never locks anyone out: old hashes keep verifying
// until the next login re-hashes them (NeedsRehash).
type Passwords struct {
	current PasswordHasher
	bcrypt  PasswordHasher
	argon2  PasswordHasher
}

// NewPasswords returns a hasher that hashes with current and verifies
// bcrypt hashes with bcrypt and argon2id hashes with argon2 (either may be
// current).
func NewPasswords(current, bcrypt, argon2 PasswordHasher) *Passwords {
	return &Passwords{current: current, bcrypt: bcrypt, argon2: argon2}
}

// Hash hashes with the current scheme.
func (p *Passwords) Hash(password string) (string, error) { return p.current.Hash(password) }

// Verify picks the scheme from the hash's prefix.
func (p *Passwords) Verify(hash, password string) bool {
	if strings.HasPrefix(hash, argon2Prefix) {
		return p.argon2.Verify(hash, password)
	}
	return p.bcrypt.Verify(hash, password)
}

// NeedsRehash reports whether hash was made by another scheme or cost than
// the current one.
func (p *Passwords) NeedsRehash(hash string) bool { return p.current.NeedsRehash(hash) }
