package user

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// MailKind names an account message.
type MailKind string

// The account messages.
const (
	// MailVerifyEmail carries a link that proves the address.
	MailVerifyEmail MailKind = "verify_email"
	// MailResetPassword carries a link that sets a new password.
	MailResetPassword MailKind = "reset_password"
	// MailEmailChanged tells the previous address of an email change,
	// with a link that undoes it.
	MailEmailChanged MailKind = "email_changed"
	// MailPasswordChanged tells the trusted address that the password
	// was changed or reset.
	MailPasswordChanged MailKind = "password_changed"
	// MailMFARemoved tells the trusted address that a second factor was
	// removed (by the owner, or every one by an administrator).
	MailMFARemoved MailKind = "mfa_removed"
	// MailRecoveryCodeUsed tells the trusted address that a recovery code
	// was used to log in.
	MailRecoveryCodeUsed MailKind = "recovery_code_used"
	// MailPasskeyAdded tells the trusted address that a passkey was
	// added: it signs in without the password.
	MailPasskeyAdded MailKind = "passkey_added"
	// MailTOTPEnabled tells the trusted address that an authenticator app
	// was set up: a login then needs its codes.
	MailTOTPEnabled MailKind = "totp_enabled"
	// MailRecoveryCodesGenerated tells the trusted address that a new set
	// of recovery codes replaced the old one: the codes written down no
	// longer work, and whoever holds the new ones has a way past the
	// other factors.
	MailRecoveryCodesGenerated MailKind = "recovery_codes_generated"
	// MailSecondStepFailed is the notice that a login gave the right
	// password and then a wrong second-factor proof: unless the owner
	// mistyped, someone knows the password. Sent once per login.
	MailSecondStepFailed MailKind = "second_step_failed"
)

// ErrUndeliverable is a mail a Notifier can never send as it is (no link
// for its kind, a recipient the mail server refuses): the queue gives it
// up at once instead of trying again.
var ErrUndeliverable = errors.New("the mail cannot be delivered as it is")

// Mail is one account message. It carries no text a user wrote (no name):
// mail to an address nobody has verified must not relay anything an
// attacker typed under the service's name.
type Mail struct {
	Kind   MailKind
	To     string
	UserID uuid.UUID
	// Token is the one-time token the message's link carries, "" for a
	// notice without a link; TTL is how long it works.
	Token string
	TTL   time.Duration
}

// send hands m to the Notifier (when there is one); failures are logged,
// never the request's: the change has happened, and the user can ask
// again.
func (s *Service) send(ctx context.Context, m Mail) {
	if s.notifier == nil {
		return
	}
	if err := s.notifier.Send(ctx, m); err != nil {
		s.mailFailed(ctx, fmt.Errorf("send %s mail: %w", m.Kind, err))
	}
}

// recoveryAddress is where u's recovery mail goes: the email when it is
// verified, else the trusted address, so that an unverified email (an
// attacker's, set with a stolen session) never receives a reset link.
func recoveryAddress(u User) string {
	if u.EmailVerified || u.TrustedEmail == "" {
		return u.Email
	}
	return u.TrustedEmail
}

// noticeAddress is where notices about u's security go: the trusted
// address (the email itself once verified).
func noticeAddress(u User) string {
	if u.TrustedEmail != "" {
		return u.TrustedEmail
	}
	return u.Email
}

// notifyPasswordChanged queues, in tx, the notice to u's trusted address
// that the password changed.
func (s *Service) notifyPasswordChanged(ctx context.Context, tx Stores, u User) error {
	if !s.mails() {
		return nil
	}
	return s.queueMail(ctx, tx, Mail{Kind: MailPasswordChanged, To: noticeAddress(u), UserID: u.ID})
}
