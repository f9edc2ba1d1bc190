package user

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Filter narrows a listing of users; its zero value matches everyone.
type Filter struct {
	// EmailPrefix and UsernamePrefix match the start of the email or
	// username, ignoring letter case; every character is literal.
	EmailPrefix, UsernamePrefix string
	// Search matches users whose email, username or full name contains
	// it, ignoring the case of ASCII letters (A-Z match a-z; other
	// characters only themselves); every character is literal. A Search of
	// fewer than SearchMinRunes characters matches the start of the email,
	// username or full name instead: the trigram indexes that answer a
	// search need three characters (docs/admin-search.md).
	Search   string
	IsActive *bool
	Role     *Role
	// CreatedAfter and CreatedBefore bound CreatedAt, both exclusive; the
	// zero time is no bound.
	CreatedAfter, CreatedBefore time.Time
}

// ListKey is the position of a user in a listing.
type ListKey struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// Less reports whether k sorts before o.
func (k ListKey) Less(o ListKey) bool {
	if !k.CreatedAt.Equal(o.CreatedAt) {
		return k.CreatedAt.Before(o.CreatedAt)
	}
	return bytes.Compare(k.ID[:], o.ID[:]) < 0
}

// Key is u's position in a listing.
func (u User) Key() ListKey { return ListKey{CreatedAt: u.CreatedAt, ID: u.ID} }

// ListQuery asks a store for one page of users.
type ListQuery struct {
	Filter
	After *ListKey // nil: from the first user
	Limit int
}

// Page asks for a page of a listing: the cursor of the previous page's
// answer ("" for the first) and how many users at most.
type Page struct {
	Cursor string
	Limit  int
}

// ListPage is one page of a listing. Next is the cursor of the following
// page, "" when this is the last.
type ListPage struct {
	Users []User
	Next  string
}

// Listing limits.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// cursorBytes is a cursor decoded: CreatedAt in Unix nanoseconds, then the
// 16 bytes of the id.
const cursorBytes = 8 + 16

// encodeCursor makes the opaque cursor that resumes a listing after k.
func encodeCursor(k ListKey) string {
	b := make([]byte, 0, cursorBytes)
	b = binary.BigEndian.AppendUint64(b, uint64(k.CreatedAt.UnixNano())) // #nosec G115 -- a bit pattern, decoded back the same way
	b = append(b, k.ID[:]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor of encodeCursor.
func decodeCursor(s string) (ListKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != cursorBytes {
		return ListKey{}, invalid("cursor", CodeCursor)
	}
	var k ListKey
	k.CreatedAt = time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC() // #nosec G115 -- see encodeCursor
	copy(k.ID[:], b[8:])
	return k, nil
}

// validateQuery checks a listing's limit and filter.
func validateQuery(q ListQuery) error {
	if q.Limit < 1 || q.Limit > MaxPageSize {
		return invalid("limit", CodeLimitRange, MaxPageSize)
	}
	for _, f := range []struct{ name, value string }{
		{"email_prefix", q.EmailPrefix}, {"username_prefix", q.UsernamePrefix}, {"search", q.Search},
	} {
		if len(f.value) > MaxEmail || !utf8.ValidString(f.value) || strings.IndexFunc(f.value, unicode.IsControl) >= 0 {
			return invalid(f.name, CodeFilterText, MaxEmail)
		}
	}
	if q.Role != nil && !q.Role.Valid() {
		return invalid("role", CodeRoleUnknown, roleList())
	}
	return nil
}

func roleList() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// SearchMinRunes is the length, in characters, from which Filter.Search
// matches anywhere in a field rather than at its start.
const SearchMinRunes = 3

// SearchSeparator separates the fields in the text a search looks in
// (SearchText). It is a control character, which a search may not
// contain, so no match spans two fields.
const SearchSeparator = "\x01"

// SearchText is the text Filter.Search looks in for u: each of the email,
// username and full name preceded by SearchSeparator, ASCII letters
// lowered. The stores index the same text (the migrations of 00014).
func SearchText(email, username, fullName string) string {
	return FoldASCII(SearchSeparator + email + SearchSeparator + username + SearchSeparator + fullName)
}

// SearchPattern is what SearchText of a matching user contains for the
// search s: s with ASCII letters lowered, preceded by SearchSeparator when
// s is shorter than SearchMinRunes (then it matches the start of a field).
func SearchPattern(s string) string {
	if utf8.RuneCountInString(s) < SearchMinRunes {
		s = SearchSeparator + s
	}
	return FoldASCII(s)
}

// FoldASCII lowers the ASCII letters of s and leaves every other
// character as it is: the case folding of the search, the same in every
// store (SQLite's lower() and LIKE fold only ASCII).
func FoldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}
