package signing

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// SealedRow is one value sealed at rest: its row's key (the order the
// column is read in), the associated data it was sealed with, the value.
type SealedRow struct {
	Key    string
	AD     []byte
	Sealed []byte
}

// SealedColumn is where one kind of sealed value is kept, for Reseal.
type SealedColumn interface {
	// SealedAfter returns up to limit rows whose key follows after (""
	// for the first), in key order.
	SealedAfter(ctx context.Context, after string, limit int) ([]SealedRow, error)
	// Reseal stores next in place of row's value if the row still holds
	// row.Sealed, and says whether it did.
	Reseal(ctx context.Context, row SealedRow, next []byte) (bool, error)
}

// SealedKind names a SealedColumn ("TOTP secrets").
type SealedKind struct {
	Name   string
	Column SealedColumn
}

// ResealCount is what Reseal did to one kind: values sealed again under
// the current key, values already under it, values that changed while it
// ran (their new value was sealed by the service, under the current key).
type ResealCount struct {
	Kind                       string
	Resealed, Current, Changed int
}

// UnopenableError is Reseal refusing: values of these kinds open with
// neither key. Nothing was changed.
type UnopenableError struct {
	Counts []ResealCount // Resealed counts the values that do not open
}

func (e *UnopenableError) Error() string {
	var parts []string
	for _, c := range e.Counts {
		parts = append(parts, fmt.Sprintf("%d %s", c.Resealed, c.Kind))
	}
	return "nothing was resealed: " + strings.Join(parts, ", ") +
		" open with neither USERSVC_KEY_ENCRYPTION_KEY nor USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS (set the key they were sealed with as one of them)"
}

// ResealBatch is how many rows Reseal reads at a time.
const ResealBatch = 500

// Reseal seals every value of kinds that s opens only with its previous
// key again under its current key, batch rows at a time, each row replaced
// only if it did not change meanwhile. It first reads everything and
// refuses, changing nothing, with an *UnopenableError when a value opens
// with neither key. Running it again changes nothing.
func Reseal(ctx context.Context, s *Sealer, kinds []SealedKind, batch int) ([]ResealCount, error) {
	if err := CheckSealed(ctx, s, kinds, batch); err != nil {
		return nil, err
	}
	current := s.Current()
	counts := make([]ResealCount, 0, len(kinds))
	for _, k := range kinds {
		c := ResealCount{Kind: k.Name}
		err := eachRow(ctx, k.Column, batch, func(r SealedRow) error {
			return resealRow(ctx, s, current, k.Column, r, &c)
		})
		if err != nil {
			return counts, fmt.Errorf("%s: %w", k.Name, err)
		}
		counts = append(counts, c)
	}
	return counts, nil
}

// CheckSealed reads every value of kinds and returns an *UnopenableError
// when some open with neither of s's keys.
func CheckSealed(ctx context.Context, s *Sealer, kinds []SealedKind, batch int) error {
	var bad []ResealCount
	for _, k := range kinds {
		n := 0
		err := eachRow(ctx, k.Column, batch, func(r SealedRow) error {
			if _, err := s.Open(r.Sealed, r.AD); err != nil {
				n++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w", k.Name, err)
		}
		if n > 0 {
			bad = append(bad, ResealCount{Kind: k.Name, Resealed: n})
		}
	}
	if bad != nil {
		return &UnopenableError{Counts: bad}
	}
	return nil
}

// resealRow reseals r under current unless it is under it already.
func resealRow(ctx context.Context, s, current *Sealer, col SealedColumn, r SealedRow, c *ResealCount) error {
	if _, err := current.Open(r.Sealed, r.AD); err == nil {
		c.Current++
		return nil
	}
	plain, err := s.Open(r.Sealed, r.AD)
	if err != nil {
		return fmt.Errorf("row %s: %w", r.Key, err)
	}
	ok, err := col.Reseal(ctx, r, current.Seal(plain, r.AD))
	clear(plain)
	if err != nil {
		return fmt.Errorf("row %s: %w", r.Key, err)
	}
	if ok {
		c.Resealed++
	} else {
		c.Changed++
	}
	return nil
}

// eachRow calls f on every row of col, read batch rows at a time.
func eachRow(ctx context.Context, col SealedColumn, batch int, f func(SealedRow) error) error {
	if batch <= 0 {
		return errors.New("reseal: batch must be positive")
	}
	after := ""
	for {
		rows, err := col.SealedAfter(ctx, after, batch)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := f(r); err != nil {
				return err
			}
		}
		if len(rows) < batch {
			return nil
		}
		after = rows[len(rows)-1].Key
	}
}

// The names of the kinds of sealed values, as `usersvc keys reseal`
// prints them.
const (
	KindSigningKeys            = "signing keys"
	KindServiceKey             = "service key"
	KindWebhookSecrets         = "webhook secrets"
	KindPreviousWebhookSecrets = "previous webhook secrets"
	KindTOTPSecrets            = "TOTP secrets"
	KindQueuedMail             = "queued mail tokens"
)
