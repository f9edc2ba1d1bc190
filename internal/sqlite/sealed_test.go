package sqlite

import (
	"errors"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/user"
)

// TestSealedColumnsErrors: on a closed store, `usersvc keys reseal`'s
// reads and writes of every sealed column, and the service key's, fail
// with an error naming the operation (never an empty read a reseal would
// take for "nothing to do", nor ErrNotFound).
func TestSealedColumnsErrors(t *testing.T) {
	s := openMigrated(t)
	kinds := s.SealedColumns()
	keys := s.ServiceKeys()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if rows, err := k.Column.SealedAfter(t.Context(), "", 10); err == nil || !strings.Contains(err.Error(), "read sealed values") {
			t.Errorf("%s: SealedAfter on a closed store = %d rows, %v; want an error naming the read", k.Name, len(rows), err)
		}
		row := signing.SealedRow{Key: "k", Sealed: []byte{1}}
		if ok, err := k.Column.Reseal(t.Context(), row, []byte{2}); ok || err == nil || !strings.Contains(err.Error(), "reseal") {
			t.Errorf("%s: Reseal on a closed store = %v, %v; want false and an error naming the reseal", k.Name, ok, err)
		}
	}
	if err := keys.AddServiceKey(t.Context(), []byte{1}); err == nil || !strings.Contains(err.Error(), "add service key") {
		t.Errorf("AddServiceKey on a closed store: %v, want an error naming the operation", err)
	}
	if _, err := keys.ServiceKey(t.Context()); err == nil || errors.Is(err, signing.ErrNoServiceKey) || errors.Is(err, user.ErrNotFound) {
		t.Errorf("ServiceKey on a closed store: %v, want a failure, not \"none stored\"", err)
	}
}

// TestSealedRowsOfForeignIDs: a webhook or TOTP row whose id is not a
// UUID (never written by the service) gets associated data no sealed value
// opens with, the same for every such id, rather than a panic.
func TestSealedRowsOfForeignIDs(t *testing.T) {
	if a, b := string(webhookAD("not-a-uuid", "")), string(webhookAD("", "")); a != b {
		t.Errorf("webhookAD of two ids that are not UUIDs differ: %q, %q", a, b)
	}
	if a, b := string(totpAD("x", "")), string(totpAD("00000000-0000-0000-0000-000000000000", "")); a != b {
		t.Errorf("totpAD(x) = %q, want the nil UUID's %q", a, b)
	}
}
