package ratelimit

import (
	"strings"

	"github.com/google/uuid"
)

// The keys the limits count by besides a client's address (clientip.Key).
// The API and the hosted pages count under the same ones, so that what a
// caller does on either uses one count.

// ClientKey counts the wrong secrets of one OAuth client (ClientGuard),
// apart from the accounts' keys of the login guard.
func ClientKey(id string) string { return "client:" + id }

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
