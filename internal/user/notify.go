package user

import (
	"context"
	"time"
)

// Notifier tells users about their account by mail. Implementations
// render and deliver the message; they may queue it and return before it
// is sent, so a slow mail server never holds up a request.
type Notifier interface {
	// VerifyEmail sends u (at u.Email) the token that proves the address is
	// theirs, valid for ttl.
	VerifyEmail(ctx context.Context, u User, token string, ttl time.Duration) error
	// ResetPassword sends u the token that sets a new password, valid for
	// ttl.
	ResetPassword(ctx context.Context, u User, token string, ttl time.Duration) error
}

// WithNotifier sends account mail through n. Without it no mail is sent.
func WithNotifier(n Notifier) Option { return func(s *Service) { s.notifier = n } }
