// Package signingtest is the conformance suite of the signing package's
// store ports, and the in-memory fake that passes it.
package signingtest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/usersvc/usersvc/internal/signing"
)

// MemoryServiceKeys is an in-memory signing.ServiceKeys.
type MemoryServiceKeys struct {
	mu     sync.Mutex
	sealed []byte
}

// AddServiceKey stores sealed unless a key is stored.
func (m *MemoryServiceKeys) AddServiceKey(_ context.Context, sealed []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sealed == nil {
		m.sealed = bytes.Clone(sealed)
	}
	return nil
}

// ServiceKey is the stored key; signing.ErrNoServiceKey when none is.
func (m *MemoryServiceKeys) ServiceKey(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sealed == nil {
		return nil, signing.ErrNoServiceKey
	}
	return bytes.Clone(m.sealed), nil
}

// RunServiceKeys is the conformance suite of signing.ServiceKeys: every
// store, and MemoryServiceKeys, passes it. open makes an empty store.
func RunServiceKeys(t *testing.T, open func(t *testing.T) signing.ServiceKeys) {
	t.Run("EmptyThenFirstWins", func(t *testing.T) {
		keys := open(t)
		if _, err := keys.ServiceKey(t.Context()); !errors.Is(err, signing.ErrNoServiceKey) {
			t.Fatalf("ServiceKey() on an empty store: error = %v, want ErrNoServiceKey", err)
		}
		for _, sealed := range [][]byte{[]byte("first"), []byte("second")} {
			if err := keys.AddServiceKey(t.Context(), sealed); err != nil {
				t.Fatalf("AddServiceKey(%q): %v", sealed, err)
			}
		}
		if got, err := keys.ServiceKey(t.Context()); err != nil || string(got) != "first" {
			t.Errorf("ServiceKey() after two adds = %q, %v; want the first, kept", got, err)
		}
	})
	t.Run("ReplicasStartingTogetherAgree", func(t *testing.T) { replicasAgree(t, open(t)) })
}

// replicasAgree: replicas opening the service key together on an empty
// store, each with a key of its own to store first, all use one key.
func replicasAgree(t *testing.T, keys signing.ServiceKeys) {
	sealer, err := signing.NewSealer(bytes.Repeat([]byte{7}, signing.KeyEncryptionKeyBytes), nil)
	if err != nil {
		t.Fatal(err)
	}
	const replicas = 4
	got := make([][]byte, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range byte(replicas) {
		wg.Go(func() {
			<-start
			got[i], errs[i] = signing.OpenServiceKey(t.Context(), keys, sealer, func() ([]byte, error) {
				return bytes.Repeat([]byte{i + 1}, 32), nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i := range replicas {
		if errs[i] != nil {
			t.Fatalf("replica %d: OpenServiceKey: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("replica %d uses another service key than replica 0", i)
		}
	}
}
