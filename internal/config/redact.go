package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
)

// Masked replaces a secret, or the password in a URL, wherever settings
// are shown.
const Masked = "xxxxx"

// Redact returns a URL fit for a log line or an error: the password of
// its user info (of a NATS URL, a user alone, which is its token) and the value of any query parameter named like a password
// (password=, sslpassword=) are Masked. A value that does not parse as a URL
// with a scheme (libpq's "host=db password=..." parses as a bare path) is
// not shown at all, as it cannot be told where a password in it is.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || (raw != "" && u.Scheme == "") {
		return "(not a valid URL; not shown, as it may hold a password)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Masked)
		} else if u.Scheme == "nats" || u.Scheme == "tls" {
			u.User = url.User(Masked) // NATS takes a lone user as its auth token
		}
	}
	if q := u.Query(); len(q) > 0 {
		masked := false
		for k := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				q.Set(k, Masked)
				masked = true
			}
		}
		if masked {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

// settings lists every variable with its value as it may be shown: the
// values of fields tagged secret are Masked (or, for URLs, Redacted).
func (c Config) settings() []slog.Attr {
	v := reflect.ValueOf(c)
	vars := variables()
	attrs := make([]slog.Attr, 0, len(vars))
	for _, s := range vars {
		value := fmt.Sprint(v.FieldByIndex(s.index).Interface())
		switch {
		case value == "":
		case s.secret == secretURL:
			value = Redact(value)
		case s.secret != "":
			value = Masked
		}
		attrs = append(attrs, slog.String(s.name, value))
	}
	return attrs
}

// LogValue implements slog.LogValuer: logging a Config shows every
// setting, secrets masked.
func (c Config) LogValue() slog.Value { return slog.GroupValue(c.settings()...) }

// String shows every setting as NAME=value, secrets masked.
func (c Config) String() string {
	var b strings.Builder
	for i, a := range c.settings() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%q", a.Key, a.Value.String())
	}
	return b.String()
}

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v)
// prints String: a Config printed by mistake shows no secret.
func (c Config) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, c.String()) }
