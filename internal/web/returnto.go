package web

import (
	"net/url"
	"strings"
)

// maxReturnTo is the longest return_to followed.
const maxReturnTo = 2048

// safeReturn is where a sign-in may send the browser for the return_to
// raw, "" when nowhere: a path of this service starting with a single
// '/', or an absolute http(s) URL on USERSVC_PUBLIC_URL's origin or an
// allow-listed one. Anything a browser could read as another host
// (//evil, /\evil, schemes, credentials, control characters, and their
// percent-encoded forms) is refused.
func (p *Pages) safeReturn(raw string) string {
	if raw == "" || len(raw) > maxReturnTo || strings.ContainsAny(raw, "\\") || strings.IndexFunc(raw, badRune) >= 0 {
		return ""
	}
	if strings.HasPrefix(raw, "/") {
		return safePath(raw)
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Host == "" || u.Opaque != "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	if !p.origins[strings.ToLower(u.Scheme+"://"+u.Host)] {
		return ""
	}
	return u.String()
}

// safePath is raw, a path starting with '/', when no decoding of its
// path part starts with "//" or holds a backslash or a control character
// (the query may hold anything encoded: an OAuth request's, say).
func safePath(raw string) string {
	s, _, _ := strings.Cut(raw, "?")
	s, _, _ = strings.Cut(s, "#")
	for range 3 { // %252F decodes twice; a third pass changes nothing legitimate
		if strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\") || strings.IndexFunc(s, badRune) >= 0 {
			return ""
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return ""
		}
		if d == s {
			break
		}
		s = d
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return raw
}

// badRune is a control character or whitespace, which browsers strip or
// read unpredictably in a URL.
func badRune(r rune) bool { return r < 0x21 || r == 0x7f }
