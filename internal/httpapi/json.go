package httpapi

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// strictJSON is huma's JSON format, refusing what encoding/json would
// silently turn into U+FFFD and so store something the client never sent:
// bytes that are not UTF-8, and \u escapes of unpaired UTF-16 surrogates.
// huma answers 400 for any unmarshal error.
var strictJSON = huma.Format{
	Marshal: huma.DefaultJSONFormat.Marshal,
	Unmarshal: func(data []byte, v any) error {
		if !utf8.Valid(data) {
			return errInvalidUTF8
		}
		if hasLoneSurrogate(data) {
			return errLoneSurrogate
		}
		return json.Unmarshal(data, v)
	},
}

var (
	errInvalidUTF8   = errors.New("request body is not valid UTF-8")
	errLoneSurrogate = errors.New(`request body has a \u escape of an unpaired UTF-16 surrogate`)
)

// hasLoneSurrogate reports whether data holds a \uXXXX escape of a UTF-16
// surrogate that is not half of a valid pair.
func hasLoneSurrogate(data []byte) bool {
	for i := 0; i+1 < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		r1, ok := escapedRune(data[i:])
		if !ok {
			i++ // skip the escaped character, which may be a backslash
			continue
		}
		i += 5 // the escape's last digit
		if !utf16.IsSurrogate(r1) {
			continue
		}
		r2, ok := escapedRune(data[i+1:])
		if !ok || utf16.DecodeRune(r1, r2) == unicode.ReplacementChar {
			return true
		}
		i += 6
	}
	return false
}

// escapedRune decodes the \uXXXX escape at the start of b.
func escapedRune(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	return rune(n), err == nil
}
