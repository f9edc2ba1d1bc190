package oidcop_test

import (
	"errors"
	"testing"

	"github.com/usersvc/usersvc/internal/oidcop"
)

// TestWhySaveRefused: the rule every store applies to a save over a
// stored auth request, a used code first, then another code, then a done
// request saved without one.
func TestWhySaveRefused(t *testing.T) {
	code, other := []byte("code"), []byte("other")
	for _, tt := range []struct {
		name   string
		stored oidcop.RequestFence
		next   []byte
		want   error
	}{
		{"pending, no code", oidcop.RequestFence{}, nil, nil},
		{"pending, its first code", oidcop.RequestFence{}, code, nil},
		{"done, its first code", oidcop.RequestFence{Done: true}, code, nil},
		{"done, no code", oidcop.RequestFence{Done: true}, nil, oidcop.ErrRequestDone},
		{"coded, the same code", oidcop.RequestFence{CodeHash: code, Done: true}, []byte("code"), nil},
		{"coded, another code", oidcop.RequestFence{CodeHash: code}, other, oidcop.ErrCodeIssued},
		{"coded, no code", oidcop.RequestFence{CodeHash: code}, nil, oidcop.ErrCodeIssued},
		{"coded and done, no code", oidcop.RequestFence{CodeHash: code, Done: true}, nil, oidcop.ErrCodeIssued},
		{"used, the same code", oidcop.RequestFence{CodeHash: code, CodeUsed: true}, code, oidcop.ErrCodeUsed},
		{"used, another code", oidcop.RequestFence{CodeHash: code, CodeUsed: true, Done: true}, other, oidcop.ErrCodeUsed},
		{"used, no code", oidcop.RequestFence{CodeHash: code, CodeUsed: true, Done: true}, nil, oidcop.ErrCodeUsed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := oidcop.WhySaveRefused(tt.stored, tt.next); !errors.Is(got, tt.want) {
				t.Errorf("WhySaveRefused(%+v, %q) = %v, want %v", tt.stored, tt.next, got, tt.want)
			}
		})
	}
}
