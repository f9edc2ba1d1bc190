package signing_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/usersvc/usersvc/internal/signing"
)

// TestSealerOpensWithThePreviousKey: during a rotation what the previous
// key sealed opens, what is sealed new is under the current key alone.
func TestSealerOpensWithThePreviousKey(t *testing.T) {
	old, current := newSealer(t, 1), newSealer(t, 2)
	both, err := signing.NewSealer(bytes.Repeat([]byte{2}, signing.KeyEncryptionKeyBytes), bytes.Repeat([]byte{1}, signing.KeyEncryptionKeyBytes))
	if err != nil {
		t.Fatal(err)
	}
	ad := []byte("row 1")
	if got, err := both.Open(old.Seal([]byte("secret"), ad), ad); err != nil || string(got) != "secret" {
		t.Errorf("Open of the previous key's value = %q, %v; want it opened", got, err)
	}
	if got, err := both.OpenFor(old.SealFor([]byte("token"), "mail"), "mail"); err != nil || string(got) != "token" {
		t.Errorf("OpenFor of the previous key's value = %q, %v; want it opened", got, err)
	}
	fresh := both.Seal([]byte("new"), ad)
	if _, err := current.Open(fresh, ad); err != nil {
		t.Errorf("a value sealed during the rotation does not open with the current key alone: %v", err)
	}
	if _, err := old.Open(fresh, ad); err == nil {
		t.Error("a value sealed during the rotation opens with the previous key: want the current one only")
	}
	if _, err := both.Current().Open(old.Seal([]byte("secret"), ad), ad); !errors.Is(err, signing.ErrWrongEncryptionKey) {
		t.Errorf("Current().Open of the previous key's value: %v, want ErrWrongEncryptionKey", err)
	}
	if _, err := both.Open(old.Seal([]byte("secret"), ad), []byte("row 2")); !errors.Is(err, signing.ErrWrongEncryptionKey) {
		t.Errorf("Open with another row's data: %v, want ErrWrongEncryptionKey", err)
	}
	if _, err := signing.NewSealer(bytes.Repeat([]byte{2}, 32), make([]byte, 16)); err == nil {
		t.Error("NewSealer with a 16-byte previous key succeeded, want an error")
	}
}

// memoryColumn is a SealedColumn in memory; before, when set, runs before
// each Reseal (a change made meanwhile).
type memoryColumn struct {
	mu     sync.Mutex
	rows   []signing.SealedRow // by key
	writes int
	before func(key string)
}

func (c *memoryColumn) SealedAfter(_ context.Context, after string, limit int) ([]signing.SealedRow, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []signing.SealedRow
	for _, r := range c.rows {
		if r.Key > after && len(out) < limit {
			out = append(out, signing.SealedRow{Key: r.Key, AD: r.AD, Sealed: bytes.Clone(r.Sealed)})
		}
	}
	return out, nil
}

func (c *memoryColumn) Reseal(_ context.Context, row signing.SealedRow, next []byte) (bool, error) {
	if c.before != nil {
		c.before(row.Key)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.IndexFunc(c.rows, func(r signing.SealedRow) bool { return r.Key == row.Key })
	if i < 0 || !bytes.Equal(c.rows[i].Sealed, row.Sealed) {
		return false, nil
	}
	c.rows[i].Sealed = next
	c.writes++
	return true, nil
}

// column makes n rows sealed by s.
func column(s *signing.Sealer, n int) *memoryColumn {
	c := &memoryColumn{}
	for i := range n {
		key := fmt.Sprintf("k%03d", i)
		c.rows = append(c.rows, signing.SealedRow{Key: key, AD: []byte(key), Sealed: s.Seal([]byte("v"+key), []byte(key))})
	}
	return c
}

// TestResealInBatches: every value of the previous key, read a batch at a
// time, is sealed under the current key; a second run changes nothing; a
// value changed meanwhile is left as it is and counted.
func TestResealInBatches(t *testing.T) {
	old := newSealer(t, 1)
	both, _ := signing.NewSealer(bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{1}, 32))
	current := newSealer(t, 2)
	a, b := column(old, 7), column(current, 2)
	b.rows = append(b.rows, column(old, 1).rows[0]) // mixed: "k000" again, after
	b.rows[2].Key = "k999"
	b.rows[2].AD = []byte("k000")
	a.before = func(key string) {
		if key == "k003" { // the service rotates this secret meanwhile
			a.mu.Lock()
			a.rows[3].Sealed = current.Seal([]byte("rotated"), []byte("k003"))
			a.mu.Unlock()
		}
	}
	kinds := []signing.SealedKind{{Name: "a", Column: a}, {Name: "b", Column: b}}
	counts, err := signing.Reseal(t.Context(), both, kinds, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []signing.ResealCount{{Kind: "a", Resealed: 6, Changed: 1}, {Kind: "b", Resealed: 1, Current: 2}}
	if !slices.Equal(counts, want) {
		t.Errorf("Reseal = %+v, want %+v", counts, want)
	}
	for _, c := range []*memoryColumn{a, b} {
		for _, r := range c.rows {
			if _, err := current.Open(r.Sealed, r.AD); err != nil {
				t.Errorf("row %s does not open with the current key alone after Reseal", r.Key)
			}
		}
	}
	a.before = nil
	again, err := signing.Reseal(t.Context(), both, kinds, 3)
	if err != nil || again[0].Resealed != 0 || again[1].Resealed != 0 || again[0].Current != 7 {
		t.Errorf("Reseal again = %+v, %v; want nothing resealed, everything current", again, err)
	}
}

// TestResealRefusesChangingNothing: one value that opens with neither key
// stops Reseal before any write, naming its kind and count.
func TestResealRefusesChangingNothing(t *testing.T) {
	old, stranger := newSealer(t, 1), newSealer(t, 9)
	both, _ := signing.NewSealer(bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{1}, 32))
	a, b := column(old, 4), column(old, 2)
	b.rows = append(b.rows, column(stranger, 3).rows...)
	for i := range b.rows[2:] {
		b.rows[2+i].Key = fmt.Sprintf("z%d", i)
		b.rows[2+i].AD = []byte(fmt.Sprintf("k%03d", i))
	}
	_, err := signing.Reseal(t.Context(), both, []signing.SealedKind{{Name: "webhook secrets", Column: a}, {Name: "TOTP secrets", Column: b}}, 2)
	var unopenable *signing.UnopenableError
	if !errors.As(err, &unopenable) || !strings.Contains(err.Error(), "3 TOTP secrets") || strings.Contains(err.Error(), "webhook") {
		t.Fatalf("Reseal = %v, want a refusal naming 3 TOTP secrets only", err)
	}
	if a.writes+b.writes != 0 {
		t.Errorf("Reseal refused after %d writes, want none", a.writes+b.writes)
	}
}
