package user

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Client describes who is calling: kept with the session a login opens
// and with every audit event. The HTTP layer works it out once per request
// that may record it and hands it over with WithClient.
type Client struct {
	UserAgent string
	IP        string
	RequestID string
	// ClientID names the OAuth2 client application the request says it
	// comes from (a public client's unauthenticated client_id), "" when it
	// does not say. Every audit event of the request records it.
	ClientID string
}

type clientKey struct{}

// WithClient returns ctx saying who is calling. What the client sent is
// made fit to keep first (see Client.clean).
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c.clean())
}

// clean makes the client's text fit for every store and every reader of
// the audit log: valid UTF-8 (invalid bytes become U+FFFD), no control or
// format characters (which could forge lines in a log or reorder text in
// a listing), at most MaxUserAgent bytes.
func (c Client) clean() Client {
	c.UserAgent = truncate(cleanText(c.UserAgent), MaxUserAgent)
	c.IP = truncate(cleanText(c.IP), MaxUserAgent)
	c.RequestID = truncate(cleanText(c.RequestID), MaxUserAgent)
	c.ClientID = truncate(cleanText(c.ClientID), MaxUserAgent)
	return c
}

// WithClientID returns ctx saying that the caller of WithClient is the
// OAuth2 client id ("" changes nothing).
func WithClientID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	c := clientOf(ctx)
	c.ClientID = id
	return WithClient(ctx, c)
}

// cleanText is s as valid UTF-8 without control, format or separator
// characters.
func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, unsafeRune) < 0 {
		return s // the usual case: no copy
	}
	return strings.Map(func(r rune) rune {
		if unsafeRune(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// Readable reports whether s, a name a person reads (a display name, a
// client's or a passkey's name, a description), is valid UTF-8 without
// the characters unsafeRune names, which reorder or hide the text around
// them: the one rule of every such name.
func Readable(s string) bool { return utf8.ValidString(s) && strings.IndexFunc(s, unsafeRune) < 0 }

// unsafeRune reports whether r is a character that must not reach stored
// text a person reads: controls (Cc), format characters such as bidi
// overrides and zero-width joiners (Cf), and line and paragraph
// separators (Zl, Zp).
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// clientOf returns who is calling, as WithClient said; the zero Client
// when it did not.
func clientOf(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

// MaxUserAgent is the longest user agent kept with a session or an audit
// event, in bytes.
const MaxUserAgent = 255

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ClientFrom returns who is calling, as WithClient said; the zero Client
// when it did not. Packages beside user that record audit events (the
// webhooks) read it here.
func ClientFrom(ctx context.Context) Client { return clientOf(ctx) }
