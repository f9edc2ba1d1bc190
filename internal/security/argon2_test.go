package security

import (
	"strings"
	"testing"
)

var cheapArgon2 = Argon2Params{MemoryKiB: 8 * 1024, Time: 1, Threads: 1}

func TestArgon2idHashAndVerify(t *testing.T) {
	a, err := NewArgon2id(cheapArgon2)
	if err != nil {
		t.Fatal(err)
	}
	h, err := a.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Errorf("hash = %q, want a PHC string with the parameters", h)
	}
	if !a.Verify(h, "correct horse") || a.Verify(h, "correct horsE") {
		t.Error("Verify accepts a wrong password or refuses the right one")
	}
	h2, _ := a.Hash("correct horse")
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if a.NeedsRehash(h) {
		t.Error("NeedsRehash of its own hash = true")
	}
	stronger, _ := NewArgon2id(Argon2Params{MemoryKiB: 8 * 1024, Time: 2, Threads: 1})
	if !stronger.NeedsRehash(h) || !stronger.Verify(h, "correct horse") {
		t.Error("a hasher with other parameters must still verify the hash and want to re-hash it")
	}
	for _, bad := range []string{"", "$argon2id$", "$argon2id$v=18$m=8192,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=8192,t=0,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=8192,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$!!", "$argon2id$v=19$m=x$c2FsdHNhbHQ$a2V5"} {
		if a.Verify(bad, "correct horse") || !a.NeedsRehash(bad) {
			t.Errorf("malformed hash %q verified or was not to be re-hashed", bad)
		}
	}
	if _, err := NewArgon2id(Argon2Params{MemoryKiB: 1, Time: 1, Threads: 1}); err == nil {
		t.Error("NewArgon2id accepted 1 KiB")
	}
}

func TestPasswordsVerifyEitherScheme(t *testing.T) {
	bc, _ := NewBcrypt(4)
	ar, _ := NewArgon2id(cheapArgon2)
	bcHash, _ := bc.Hash("correct horse")
	arHash, _ := ar.Hash("correct horse")
	for _, current := range []PasswordHasher{bc, ar} {
		p := NewPasswords(current, bc, ar)
		for _, h := range []string{bcHash, arHash} {
			if !p.Verify(h, "correct horse") || p.Verify(h, "wrong horse") {
				t.Errorf("current %T: Verify(%.10s...) wrong", current, h)
			}
		}
		mine, _ := p.Hash("correct horse")
		if p.NeedsRehash(mine) {
			t.Errorf("current %T: its own hash needs a re-hash", current)
		}
	}
	if p := NewPasswords(ar, bc, ar); !p.NeedsRehash(bcHash) {
		t.Error("argon2id current: a bcrypt hash does not need a re-hash")
	}
	bc5, _ := NewBcrypt(5)
	if !NewPasswords(bc5, bc5, ar).NeedsRehash(bcHash) {
		t.Error("bcrypt cost 5 current: a cost-4 hash does not need a re-hash")
	}
}
