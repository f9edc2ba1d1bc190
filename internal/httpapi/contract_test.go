package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// The contract test: requests generated from the served document for
// every operation, sent over a socket through a validating round tripper
// (kin-openapi's openapi3filter) that checks each request against the
// document, then each answer: its status must be documented for the
// operation, and its headers' and body's shape must match.

// invalidHeader marks a request the test means to be invalid: the round
// tripper does not report it, and removes the header.
const invalidHeader = "X-Test-Invalid"

// contract is a test server behind a validating client.
type contract struct {
	t      *testing.T
	s      *server
	doc    *openapi3.T
	router routers.Router
	client *http.Client
	base   string

	invalid bool // send marks its requests with invalidHeader

	mu       sync.Mutex
	problems []string
	statuses map[string]map[int]int // operation -> status -> count
}

func newContract(t *testing.T, s *server) *contract {
	t.Helper()
	res := s.do(req{method: "GET", path: "/openapi.json"})
	doc := loadOpenAPI(t, res.Body)
	ts := httptest.NewServer(s.h)
	t.Cleanup(ts.Close)
	doc.Servers = openapi3.Servers{{URL: ts.URL}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := &contract{t: t, s: s, doc: doc, router: router, base: ts.URL, statuses: map[string]map[int]int{}}
	c.client = &http.Client{Transport: c, Timeout: 30 * time.Second}
	return c
}

// RoundTrip validates the request, sends it and validates the answer.
func (c *contract) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		c.fail("%s %s: no documented route: %v", r.Method, r.URL.Path, err)
		return http.DefaultTransport.RoundTrip(r)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
	invalid := r.Header.Get(invalidHeader) != "" // meant to be refused
	r.Header.Del(invalidHeader)
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && !invalid {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		c.fail("%s %s: the generator made a request the document refuses: %s\n%.300s", r.Method, r.URL, msg, body)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resBody, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	key := r.Method + " " + route.Path
	c.mu.Lock()
	if c.statuses[key] == nil {
		c.statuses[key] = map[int]int{}
	}
	c.statuses[key][res.StatusCode]++
	c.mu.Unlock()
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header, Options: opts}
	out.SetBodyBytes(resBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		c.fail("%s %s -> %d: the answer is not what the document says: %s\nrequest %.300s\nanswer %.300s", r.Method, r.URL, res.StatusCode, msg, body, resBody)
	}
	if res.StatusCode >= 500 {
		c.fail("%s %s -> %d %s", r.Method, r.URL, res.StatusCode, resBody)
	}
	return res, nil
}

func (c *contract) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// send sends one request and returns the status and body.
func (c *contract) send(method, path string, query url.Values, contentType string, body []byte, token string) (int, []byte) {
	c.t.Helper()
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	r, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body == nil {
		r.Body = nil
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if c.invalid {
		r.Header.Set(invalidHeader, "1")
	}
	res, err := c.client.Do(r)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// report fails the test with every problem met.
func (c *contract) report() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.problems[:min(len(c.problems), 20)] {
		c.t.Error(p)
	}
	if len(c.problems) > 20 {
		c.t.Errorf("and %d more problems", len(c.problems)-20)
	}
}

// docOp is an operation of the document.
type docOp struct {
	method, path string
	op           *openapi3.Operation
}

func (c *contract) operations() []docOp {
	var ops []docOp
	for _, path := range c.doc.Paths.InMatchingOrder() {
		for method, op := range c.doc.Paths.Value(path).Operations() {
			ops = append(ops, docOp{method, path, op})
		}
	}
	// Registration first (the examples need its account), the deletion
	// of the caller's account last.
	rank := func(o docOp) int {
		switch {
		case o.path == "/api/v1/register":
			return 0
		case o.method == http.MethodDelete && o.path == "/api/v1/users/me":
			return 2
		}
		return 1
	}
	slices.SortStableFunc(ops, func(a, b docOp) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.method+a.path, b.method+b.path)
	})
	return ops
}

// TestContractGeneratedRequests sends schema-valid requests generated from
// the document for every operation, as an administrator (fresh for each
// operation, so that a deleted account or a changed password does not
// starve the next), and finds no answer the document does not describe.
func TestContractGeneratedRequests(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		c := newContract(t, s)
		rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
		const perOp = 10
		refused := map[string]int{} // the 422s, by answer
		for _, o := range c.operations() {
			admin, id := s.signUp()
			s.setRole(id, user.RoleAdmin)
			tok := s.token(admin.Username, admin.Password)
			for range perOp {
				query, path := url.Values{}, o.path
				for _, p := range o.op.Parameters {
					v := p.Value
					if v.In != "query" && v.In != "path" || (!v.Required && rng.IntN(2) == 0) {
						continue
					}
					val := genValue(rng, v.Schema.Value)
					if v.In == "path" {
						path = strings.Replace(path, "{"+v.Name+"}", fmt.Sprint(val), 1)
					} else if arr, ok := val.([]any); ok {
						for _, a := range arr {
							query.Add(v.Name, fmt.Sprint(a))
						}
					} else {
						query.Set(v.Name, fmt.Sprint(val))
					}
				}
				var body []byte
				contentType := ""
				if rb := o.op.RequestBody; rb != nil {
					types := slices.Sorted(func(yield func(string) bool) {
						for ct := range rb.Value.Content {
							if !yield(ct) {
								return
							}
						}
					})
					contentType = types[rng.IntN(len(types))]
					v := genValue(rng, rb.Value.Content[contentType].Schema.Value)
					body = encodeBody(contentType, v)
				}
				if status, b := c.send(o.method, path, query, contentType, body, tok); status == http.StatusUnprocessableEntity {
					refused[string(b)]++
				}
			}
		}
		c.report()
		for b := range refused {
			wantStatedRefusal(t, b)
		}
		for _, o := range c.operations() {
			got := c.statuses[o.method+" "+o.path]
			if len(got) == 0 {
				t.Errorf("%s %s was never sent", o.method, o.path)
			}
			t.Logf("%s %s: statuses %v", o.method, o.path, got)
		}
	})
}

// statedRefusals are the reasons a schema-valid request may still be
// refused, each stated in the document's descriptions: a cursor that no
// earlier page handed out (a cursor is opaque).
var statedRefusals = []string{"is not a next_cursor of an earlier page", "is not a cursor from a previous page",
	// The rules of an OAuth client that span fields (oauthclients.go).
	"needs at least one redirect URI", "needs a confidential client", "is for service accounts",
	"a public client authenticates with none"}

// wantStatedRefusal checks that the 422 body b refuses a schema-valid
// request only for a reason the document states.
func wantStatedRefusal(t *testing.T, b string) {
	t.Helper()
	var p struct {
		Errors []struct{ Message string }
	}
	_ = json.Unmarshal([]byte(b), &p)
	for _, e := range p.Errors {
		if !slices.ContainsFunc(statedRefusals, func(r string) bool { return strings.Contains(e.Message, r) }) {
			t.Errorf("a schema-valid request refused for a reason the document does not state: %s", b)
		}
	}
}

// TestContractExamples sends the document's own examples, in an order
// that gives each the state it needs (the example account registered and
// made an administrator): each is answered as documented, and none is
// refused for its shape (400 or 422). Placeholders of what only the
// service mints (a mailed token, an id) get their documented business
// answer.
func TestContractExamples(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		c := newContract(t, s)
		var tok string
		sent := 0
		for _, o := range c.operations() {
			query, path := url.Values{}, o.path
			for _, p := range o.op.Parameters {
				v := p.Value
				if v.In != "query" && v.In != "path" {
					continue
				}
				if v.Example == nil {
					if v.Required {
						t.Errorf("%s %s: parameter %s has no example", o.method, o.path, v.Name)
					}
					continue
				}
				if v.In == "path" {
					path = strings.Replace(path, "{"+v.Name+"}", fmt.Sprint(v.Example), 1)
				} else if arr, ok := v.Example.([]any); ok {
					for _, a := range arr {
						query.Add(v.Name, fmt.Sprint(a))
					}
				} else {
					query.Set(v.Name, fmt.Sprint(v.Example))
				}
			}
			bodies := map[string]any{"": nil}
			var contentType string
			if rb := o.op.RequestBody; rb != nil {
				bodies = map[string]any{}
				for ct, mt := range rb.Value.Content {
					contentType = ct
					if mt.Example != nil {
						bodies[ct+" example"] = mt.Example
					}
					for name, ex := range mt.Examples {
						bodies[ct+" "+name] = ex.Value.Value
					}
				}
				if len(bodies) == 0 {
					t.Errorf("%s %s: the request body has no example", o.method, o.path)
				}
			}
			for _, name := range slices.Sorted(func(yield func(string) bool) {
				for k := range bodies {
					if !yield(k) {
						return
					}
				}
			}) {
				ct := contentType
				if name != "" {
					ct, _, _ = strings.Cut(name, " ")
				}
				var body []byte
				if bodies[name] != nil {
					body = encodeBody(ct, bodies[name])
				}
				if o.path == "/api/v1/register" {
					status, b := c.send(o.method, path, query, ct, body, "")
					if status != http.StatusCreated {
						t.Fatalf("the register example: %d %s", status, b)
					}
					var u struct{ ID string }
					_ = json.Unmarshal(b, &u)
					s.setRole(uuid.MustParse(u.ID), user.RoleAdmin)
					tok = s.token("ada", "purple kettle drums 91")
					sent++
					continue
				}
				if tok == "" {
					t.Fatalf("operations sorted before register: %s %s", o.method, o.path)
				}
				status, b := c.send(o.method, path, query, ct, body, tok)
				sent++
				if status == http.StatusUnprocessableEntity || bytes.Contains(b, []byte(`"code":"malformed_request"`)) {
					t.Errorf("%s %s (%s): the example is refused: %d %s", o.method, path, name, status, b)
				}
			}
		}
		c.report()
		if sent < len(c.operations()) {
			t.Errorf("sent %d examples for %d operations", sent, len(c.operations()))
		}
	})
}

// encodeBody encodes v as contentType.
func encodeBody(contentType string, v any) []byte {
	if contentType == formType {
		form := url.Values{}
		if m, ok := v.(map[string]any); ok {
			for k, x := range m {
				form.Set(k, fmt.Sprint(x))
			}
		}
		return []byte(form.Encode())
	}
	b, _ := json.Marshal(v)
	return b
}

var genLetters = []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

// genValue makes a random value valid under s.
func genValue(rng *rand.Rand, s *openapi3.Schema) any {
	if s == nil {
		return nil
	}
	if len(s.Enum) > 0 {
		return s.Enum[rng.IntN(len(s.Enum))]
	}
	if len(s.OneOf) > 0 {
		return genValue(rng, s.OneOf[rng.IntN(len(s.OneOf))].Value)
	}
	switch {
	case s.Type.Is("object"):
		m := map[string]any{}
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range s.Properties {
				if !yield(k) {
					return
				}
			}
		}) {
			if slices.Contains(s.Required, name) || rng.IntN(2) == 0 {
				if p := s.Properties[name].Value; !p.ReadOnly {
					m[name] = genValue(rng, p)
				}
			}
		}
		return m
	case s.Type.Is("array"):
		var a []any
		for range rng.IntN(3) {
			a = append(a, genValue(rng, s.Items.Value))
		}
		for uint64(len(a)) < s.MinItems {
			a = append(a, genValue(rng, s.Items.Value))
		}
		if a == nil {
			a = []any{}
		}
		return a
	case s.Type.Is("integer"):
		lo, hi := 0, 1000
		if s.Min != nil {
			lo = int(*s.Min)
		}
		if s.Max != nil {
			hi = int(*s.Max)
		}
		return lo + rng.IntN(hi-lo+1)
	case s.Type.Is("boolean"):
		return rng.IntN(2) == 0
	case s.Type.Is("string"):
		return genString(rng, s)
	}
	return nil
}

func genString(rng *rand.Rand, s *openapi3.Schema) string {
	switch s.Format {
	case "email":
		return fmt.Sprintf("gen%d@example.com", rng.Uint32())
	case "uuid":
		return uuid.NewString()
	case "date-time":
		return time.Unix(1_600_000_000+rng.Int64N(400_000_000), 0).UTC().Format(time.RFC3339)
	}
	lo, hi := uint64(1), uint64(16)
	if s.MinLength > 0 {
		lo = s.MinLength
	}
	if s.MaxLength != nil && *s.MaxLength < hi {
		hi = *s.MaxLength
	}
	if s.Format == "password" && lo < 12 {
		lo = 12 // random letters: never a breached password
	}
	if hi < lo {
		hi = lo
	}
	b := make([]rune, lo+rng.Uint64N(hi-lo+1))
	for i := range b {
		b[i] = genLetters[rng.IntN(len(genLetters))]
	}
	str := string(b)
	if s.Pattern != "" && !regexp.MustCompile(s.Pattern).MatchString(str) {
		if s.Example != nil {
			return fmt.Sprint(s.Example)
		}
		if len(s.Examples) > 0 {
			return fmt.Sprint(s.Examples[0])
		}
	}
	return str
}

// TestContractRefusals: the answers generated requests rarely meet (a
// rate limit, a lockout, a missing token, a body over the limit or of
// another type) are documented too, headers included.
func TestContractRefusals(t *testing.T) {
	t.Parallel()
	s := newServer(t, apptest.Memory, limitsOn("USERSVC_RATE_LIMIT_LOGIN", "3/1m", "USERSVC_RATE_LIMIT_MAIL", "1/1h",
		"USERSVC_LOGIN_LOCKOUT_THRESHOLD", "2"))
	c := newContract(t, s)
	a, _ := s.signUp()
	for i := range 3 {
		c.send("POST", tokenPath, nil, formType, []byte(form("username", a.Username, "password", "typo "+fmt.Sprint(i))), "")
	}
	c.send("POST", tokenPath, nil, formType, []byte(form("username", a.Username, "password", a.Password)), "")
	for range 2 {
		c.send("POST", "/api/v1/password-reset", nil, "application/json", []byte(`{"email":"nobody@example.com"}`), "")
	}
	c.invalid = true // from here on, requests the document refuses
	c.send("GET", "/api/v1/users/me", nil, "", nil, "")
	c.send("GET", "/api/v1/users/me", nil, "", nil, "not a token")
	c.send("POST", "/api/v1/register", nil, "text/plain", []byte(`{}`), "")
	c.send("POST", "/api/v1/register", nil, "application/json", []byte(strings.Repeat(" ", 70<<10)), "")
	c.send("GET", "/healthz", nil, "application/json", []byte(strings.Repeat(" ", 70<<10)), "")
	c.report()
	for key, want := range map[string]int{"POST /api/v1/token": 429, "POST /api/v1/password-reset": 429, "GET /api/v1/users/me": 401,
		"POST /api/v1/register": 413, "GET /healthz": 413} {
		if c.statuses[key][want] == 0 {
			t.Errorf("%s: statuses %v, want a %d among them", key, c.statuses[key], want)
		}
	}
}
