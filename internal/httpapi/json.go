package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// strictJSON is huma's JSON format, refusing what encoding/json would
// silently turn into U+FFFD and so store something the client never sent:
// bytes that are not UTF-8, and \u escapes of unpaired UTF-16 surrogates;
// and an object that repeats a key, which encoding/json would take as its
// last value (what another reader of the body, a filter or a log, might
// not). huma answers 400 for any unmarshal error.
var strictJSON = huma.Format{
	Marshal: huma.DefaultJSONFormat.Marshal,
	Unmarshal: func(data []byte, v any) error {
		if !utf8.Valid(data) {
			return errInvalidUTF8
		}
		if hasLoneSurrogate(data) {
			return errLoneSurrogate
		}
		err := json.Unmarshal(data, v)
		if typeErr, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			// encoding/json's own text names Go's types ("into Go value of
			// type float64"): a number no float64 holds, here.
			return fmt.Errorf("%s is out of range or of the wrong type", typeErr.Value)
		}
		if err != nil {
			return err
		}
		// Only now, so that the walk reads JSON whose depth
		// json.Unmarshal has bounded.
		if key, ok := repeatedKey(data); ok {
			return fmt.Errorf("request body repeats the key %q in an object", key)
		}
		return nil
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

// repeatedKey returns the first key of data that repeats one of its
// object, compared as encoding/json matches keys to fields: without
// regard to case (Unicode simple folding). It reads data as far as it is
// JSON; what is not is for json.Unmarshal to report.
func repeatedKey(data []byte) (string, bool) {
	type object struct {
		keys    map[string]bool // nil for an array
		wantKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var open []object
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		var top *object
		if n := len(open); n > 0 && open[n-1].keys != nil {
			top = &open[n-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.wantKey {
			k := foldKey(s)
			if top.keys[k] {
				return s, true
			}
			top.keys[k], top.wantKey = true, false
			continue
		}
		if top != nil && tok != json.Delim('}') {
			top.wantKey = true // a value of top's, or the start of one
		}
		switch tok {
		case json.Delim('{'):
			open = append(open, object{keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			open = append(open, object{})
		case json.Delim('}'), json.Delim(']'):
			open = open[:len(open)-1]
		}
	}
}

// foldKey maps every key that strings.EqualFold holds equal to one string:
// each rune replaced by the smallest of its simple-folding orbit.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
