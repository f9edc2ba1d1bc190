package ratelimit

import (
	"net/netip"
	"strings"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/clientip"
)

// The keys the limits count by besides a client's address (clientip.Key).
// The API and the hosted pages count under the same ones, so that what a
// caller does on either uses one count.

// ClientKey counts the wrong secrets of one OAuth client presented from
// one address (ClientGuard), apart from the accounts' keys of the login
// guard. The address counts as the per-address limits count it
// (clientip.Key: an IPv6 client by its /64); one that does not parse (""
// when the caller did not say) counts as it is.
func ClientKey(id, from string) string {
	if a, err := netip.ParseAddr(from); err == nil {
		from = clientip.Key(a.Unmap())
	}
	return "client:" + id + "\x00" + from
}

// AccountKey counts per account (the API's byAccount).
func AccountKey(id uuid.UUID) string { return "account:" + id.String() }

// SessionKey counts per session (the API's bySession): an intruder's
// session can use up its own count, never the owner's.
func SessionKey(id uuid.UUID) string { return "session:" + id.String() }

// ResetRecipientKey counts the password-reset mails to one address, from
// any client.
func ResetRecipientKey(email string) string { return "reset:" + strings.ToLower(email) }

// ChangeRecipientKey counts the email changes to one new address, from
// any account.
func ChangeRecipientKey(email string) string { return "change:" + strings.ToLower(email) }

// VerifyRecipientKey counts the verification mails of one account.
func VerifyRecipientKey(id uuid.UUID) string { return "verify:" + id.String() }
