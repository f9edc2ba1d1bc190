package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHasLoneSurrogate(t *testing.T) {
	for _, tt := range []struct {
		json string
		want bool
	}{
		{`"plain"`, false},
		{`"\u0041"`, false},
		{`"\ud83d\ude00"`, false},
		{`"\uD83D\uDE00"`, false},
		{`"\ud83d"`, true},
		{`"\ude00"`, true},
		{`"\ud83d\u0041"`, true},
		{`"\ud83d\ud83d\ude00"`, true},
		{`"\ud83d\ude00\ud800"`, true},
		{`"\ud83d\\"`, true},
		{`"\\ud800"`, false},
		{`"\\\ud800"`, true},
		{`"\n\ud800"`, true},
		{`"\u12"`, false},
		{`"\`, false},
	} {
		if got := hasLoneSurrogate([]byte(tt.json)); got != tt.want {
			t.Errorf("hasLoneSurrogate(%s): got %v, want %v", tt.json, got, tt.want)
		}
	}
}

// FuzzHasLoneSurrogate checks hasLoneSurrogate against encoding/json: a
// valid JSON string without U+FFFD of its own decodes to one with U+FFFD
// exactly when it has a lone surrogate escape.
func FuzzHasLoneSurrogate(f *testing.F) {
	for _, s := range []string{`"a"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\\ud800"`, `"\\\ude00x"`, `"\ud800\ud800\udc00"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var decoded string
		if !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) ||
			strings.Contains(strings.ToLower(s), `\ufffd`) || json.Unmarshal([]byte(s), &decoded) != nil {
			return
		}
		if got, want := hasLoneSurrogate([]byte(s)), strings.ContainsRune(decoded, utf8.RuneError); got != want {
			t.Errorf("hasLoneSurrogate(%s): got %v, want %v (decoded %q)", s, got, want, decoded)
		}
	})
}

func TestRepeatedKey(t *testing.T) {
	for _, tt := range []struct {
		json, want string
	}{
		{`{"a":1,"b":2}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"a":1,"A":2}`, "A"},
		{`{"k":1,"\u212a":2}`, "\u212a"}, // KELVIN SIGN, which encoding/json matches to k
		{`{"a":{"b":1},"b":2}`, ""},
		{`{"a":{"b":1,"b":2}}`, "b"},
		{`[{"a":1},{"a":2}]`, ""},
		{`{"a":[{"b":1,"c":[1,"b"]}],"b":"a"}`, ""},
		{`{"a":"a","b":"b","c":{"a":"b"},"a":0}`, "a"},
		{`{"a":1,"a"`, "a"},
		{`{"a":`, ""},
		{`"a"`, ""},
	} {
		if got, _ := repeatedKey([]byte(tt.json)); got != tt.want {
			t.Errorf("repeatedKey(%s) = %q, want %q", tt.json, got, tt.want)
		}
	}
}
