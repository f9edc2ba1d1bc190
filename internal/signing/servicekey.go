package signing

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoServiceKey says no service key is stored yet.
var ErrNoServiceKey = errors.New("no service key is stored")

// ErrServiceKeyWrongEncryptionKey says the stored service key opens with
// neither the key-encryption key nor the previous one.
var ErrServiceKeyWrongEncryptionKey = errors.New("the stored service key does not decrypt: USERSVC_KEY_ENCRYPTION_KEY is not the key it was sealed with (nor is USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS or USERSVC_KEY_ENCRYPTION_KEY_NEXT): after changing USERSVC_KEY_ENCRYPTION_KEY, set USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS to the key before it")

// ServiceKeys keeps the service key (the key the service derives its own
// keys from: recovery-code hashes, device tokens, the pages' cookie), sealed
// under the key-encryption key: one value per database.
type ServiceKeys interface {
	// AddServiceKey stores sealed unless a service key is stored already,
	// in which case it changes nothing and returns nil.
	AddServiceKey(ctx context.Context, sealed []byte) error
	// ServiceKey is the stored sealed service key; ErrNoServiceKey when
	// there is none.
	ServiceKey(ctx context.Context) ([]byte, error)
}

// ServiceKeyPurpose is what the service key is sealed for (SealFor).
const ServiceKeyPurpose = "service key"

// OpenServiceKey is the stored service key, opened with s (its current or
// previous key). When none is stored it stores first, sealed, the value
// first() makes (the key earlier releases derived at each start), and
// reads back whichever of two replicas starting together stored it: every
// replica uses the same key.
func OpenServiceKey(ctx context.Context, keys ServiceKeys, s *Sealer, first func() ([]byte, error)) ([]byte, error) {
	sealed, err := keys.ServiceKey(ctx)
	if errors.Is(err, ErrNoServiceKey) {
		key, ferr := first()
		if ferr != nil {
			return nil, ferr
		}
		if err := keys.AddServiceKey(ctx, s.SealFor(key, ServiceKeyPurpose)); err != nil {
			return nil, fmt.Errorf("store the service key: %w", err)
		}
		sealed, err = keys.ServiceKey(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("read the service key: %w", err)
	}
	key, err := s.OpenFor(sealed, ServiceKeyPurpose)
	if err != nil {
		return nil, ErrServiceKeyWrongEncryptionKey
	}
	return key, nil
}
