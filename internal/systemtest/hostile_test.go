package systemtest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// The bounds on reading a request: a client that sends its headers too
// slowly is cut off after the http.Server's ReadHeaderTimeout, one that
// sends its body too slowly after huma's BodyReadTimeout (well within the
// server's ReadTimeout of 15 s), give or take timeoutSlack for a busy
// machine.
const (
	readHeaderTimeout = 5 * time.Second
	bodyReadTimeout   = 5 * time.Second
	timeoutSlack      = 2 * time.Second
)

// hostile is one bad request and what it must get.
type hostile struct {
	name        string
	method      string
	path        string // under /api/v1 unless it starts with "/"
	contentType string
	body        string
	token       string // "" for none; "$" for a good one
	header      map[string]string
	want        int // the exact status, or 0 for any 4xx
}

func hostileCatalogue(good string) []hostile {
	const form = "application/x-www-form-urlencoded"
	reg := func(email, username, password string) string {
		return fmt.Sprintf(`{"email":%s,"username":%s,"password":%s}`, email, username, password)
	}
	nested := func(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }
	manyHeaders := map[string]string{}
	for i := range 2000 {
		manyHeaders[fmt.Sprintf("X-H%d", i)] = strings.Repeat("v", 40)
	}
	return []hostile{
		{name: "huge header", method: "GET", path: "/healthz", header: map[string]string{"X-Big": strings.Repeat("a", 100<<10)}, want: 431},
		{name: "many headers", method: "GET", path: "/healthz", header: manyHeaders, want: 431},
		{name: "huge path", method: "GET", path: "/api/v1/" + strings.Repeat("a", 100<<10)},
		{name: "deep JSON nesting", method: "POST", path: "register", body: reg(nested(20000), `"abc"`, `"correct horse"`)},
		{name: "deep JSON nesting in an object", method: "POST", path: "register", body: strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)},
		{name: "deep nesting on an authed route", method: "PUT", path: "users/me", token: "$", body: `{"full_name":` + nested(20000) + `}`},
		{name: "body over the limit", method: "POST", path: "register", body: reg(`"`+strings.Repeat("a", 70<<10)+`@example.com"`, `"abc"`, `"correct horse"`), want: 413},
		{name: "huge number", method: "POST", path: "register", body: reg(`"n@example.com"`, `"numbers"`, `1e999999999`)},
		{name: "huge integer username", method: "POST", path: "register", body: reg(`"n@example.com"`, strings.Repeat("9", 5000), `"correct horse"`)},
		{name: "NUL byte in JSON", method: "POST", path: "register", body: reg(`"n@example.com"`, "\"ab\x00c\"", `"correct horse"`)},
		{name: "escaped NUL in username", method: "POST", path: "register", body: reg(`"n@example.com"`, `"ab\u0000c"`, `"correct horse"`), want: 422},
		{name: "escaped NUL in full_name", method: "PUT", path: "users/me", token: "$", body: `{"full_name":"a\u0000b"}`, want: 422},
		{name: "invalid UTF-8 body", method: "POST", path: "register", body: reg(`"n@example.com"`, "\"ab\xff\xfec\"", `"correct horse"`), want: 400},
		{name: "lone surrogate", method: "POST", path: "register", body: reg(`"n@example.com"`, `"abc"`, `"correct \ud800horse"`), want: 400},
		{name: "invalid UTF-8 in login form", method: "POST", path: "token", contentType: form, body: "username=%ff%fe&password=x"},
		{name: "email taken in other case", method: "POST", path: "register", body: reg(`"HOSTILE@EXAMPLE.COM"`, `"other1"`, `"correct horse"`), want: 400},
		{name: "username taken in other case", method: "POST", path: "register", body: reg(`"other2@example.com"`, `"HoStIlE"`, `"correct horse"`), want: 400},
		{name: "Cyrillic look-alike email", method: "POST", path: "register", body: reg(`"hоstile@example.com"`, `"other3"`, `"correct horse"`), want: 422},
		{name: "fullwidth email", method: "POST", path: "register", body: reg(`"ｈostile@example.com"`, `"other4"`, `"correct horse"`), want: 422},
		{name: "zero-width space in email", method: "POST", path: "register", body: reg(`"host\u200bile@example.com"`, `"other5"`, `"correct horse"`), want: 422},
		{name: "display-name email", method: "POST", path: "register", body: reg(`"Eve <hostile@example.com>"`, `"other6"`, `"correct horse"`), want: 422},
		{name: "SQL injection in email", method: "POST", path: "register", body: reg(`"x' OR '1'='1@example.com"`, `"other7"`, `"correct horse"`), want: 422},
		{name: "SQL injection in username", method: "POST", path: "register", body: reg(`"other8@example.com"`, `"a'; DROP TABLE users; --"`, `"correct horse"`), want: 422},
		{name: "SQL injection login", method: "POST", path: "token", contentType: form, body: url.Values{"username": {"hostile' OR '1'='1"}, "password": {"' OR '1'='1"}}.Encode(), want: 401},
		{name: "SQL injection login by email", method: "POST", path: "token", contentType: form, body: url.Values{"username": {"hostile@example.com' --"}, "password": {"x"}}.Encode(), want: 401},
		{name: "LIKE wildcard login", method: "POST", path: "token", contentType: form, body: url.Values{"username": {"%"}, "password": {loadPassword}}.Encode(), want: 401},
		{name: "template injection in username", method: "POST", path: "register", body: reg(`"other9@example.com"`, `"{{7*7}}"`, `"correct horse"`), want: 422},
		{name: "overlong bearer token", method: "GET", path: "users/me", header: map[string]string{"Authorization": "Bearer " + strings.Repeat("A", 60<<10)}, want: 401},
		{name: "bearer token over the header limit", method: "GET", path: "users/me", header: map[string]string{"Authorization": "Bearer " + strings.Repeat("A", 128<<10)}, want: 431},
		{name: "alg none token", method: "GET", path: "users/me", header: map[string]string{"Authorization": "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + strings.Split(good, ".")[1] + "."}, want: 401},
		{name: "tampered token", method: "GET", path: "users/me", header: map[string]string{"Authorization": "Bearer " + tamper(good)}, want: 401},
		{name: "JSON login of nobody", method: "POST", path: "token", contentType: "application/json", body: `{"username":"hostile","password":"x"}`, want: 401},
		{name: "XML to the token endpoint", method: "POST", path: "token", contentType: "application/xml", body: `<login/>`, want: 415},
		{name: "form to a JSON endpoint", method: "POST", path: "register", contentType: form, body: "email=a@example.com&username=abc&password=correct+horse"},
		{name: "unknown field is_active", method: "PUT", path: "users/me", token: "$", body: `{"is_active":false}`, want: 422},
		{name: "path traversal", method: "GET", path: "/docs/../../etc/passwd"},
		{name: "wrong method", method: "PATCH", path: "users/me", token: "$", want: 405},
	}
}

// TestHostileRequests sends the catalogue over a real socket, once checking
// each answer, then again from many clients at once; then raw-socket abuse
// (smuggling, bad header bytes, slowloris headers and bodies). Every answer
// is a 4xx (or a closed connection for the slow ones), and the server is
// alive and correct afterwards.
func TestHostileRequests(t *testing.T) {
	t.Parallel()
	srv := start(t, loadEnv...)
	api := srv.base + "/api/v1"
	good := signUp(t, api, "hostile")
	catalogue := hostileCatalogue(good)
	client := &http.Client{Timeout: 30 * time.Second}
	do := func(h hostile) answer {
		u := h.path
		if !strings.HasPrefix(u, "/") {
			u = "/api/v1/" + u
		}
		req, err := http.NewRequest(h.method, srv.base+u, strings.NewReader(h.body))
		if err != nil {
			return answer{err: err}
		}
		req.Header.Set("Content-Type", "application/json")
		if h.contentType != "" {
			req.Header.Set("Content-Type", h.contentType)
		}
		if h.token == "$" {
			req.Header.Set("Authorization", "Bearer "+good)
		}
		for k, v := range h.header {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			return answer{err: err}
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return answer{status: res.StatusCode, header: res.Header, body: b, err: err}
	}
	check := func(h hostile, a answer) string {
		switch {
		case a.err != nil:
			return fmt.Sprintf("%s: %v", h.name, a.err)
		case h.want != 0 && a.status != h.want:
			return fmt.Sprintf("%s: status %d (%.200s), want %d", h.name, a.status, a.body, h.want)
		case a.status < 400 || a.status > 499:
			return fmt.Sprintf("%s: status %d (%.200s), want 4xx", h.name, a.status, a.body)
		case a.status != 431 && !strings.Contains(string(a.body), `"detail"`):
			return fmt.Sprintf("%s: body %.200s is not a JSON problem", h.name, a.body)
		}
		return ""
	}
	for _, h := range catalogue {
		if msg := check(h, do(h)); msg != "" {
			t.Error(msg)
		}
	}

	// Volume: the catalogue from 8 clients at once, 5 times each.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
	)
	for range 8 {
		wg.Go(func() {
			for range 5 {
				for _, h := range catalogue {
					if msg := check(h, do(h)); msg != "" {
						mu.Lock()
						failures = append(failures, msg)
						mu.Unlock()
					}
				}
			}
		})
	}

	addr := strings.TrimPrefix(srv.base, "http://")
	raw := []struct{ name, request string }{
		{"smuggling: Content-Length and chunked", "POST /api/v1/register HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"NUL in a header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"},
		{"bad header name", "GET /healthz HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n"},
		{"two Content-Lengths", "POST /api/v1/register HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"},
		{"bad request line", "GET\r\nHost: x\r\n\r\n"},
		{"no Host", "GET /healthz HTTP/1.1\r\n\r\n"},
	}
	for _, r := range raw {
		status, err := rawStatus(addr, r.request)
		if err != nil || status < 400 || status > 499 {
			t.Errorf("%s: status %d, %v; want 4xx", r.name, status, err)
		}
	}

	// Slowloris: a header byte every 200 ms must not hold the connection
	// past ReadHeaderTimeout; neither may a body trickled as slowly hold it
	// past BodyReadTimeout.
	var slow sync.WaitGroup
	slow.Go(func() {
		took, err := trickle(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", strings.Repeat("a", 100), readHeaderTimeout+timeoutSlack)
		t.Logf("slow headers: connection closed after %v", took)
		if err != nil || took > readHeaderTimeout+timeoutSlack {
			t.Errorf("slow headers: connection closed after %v, %v; want closed within %v (ReadHeaderTimeout)", took, err, readHeaderTimeout)
		}
	})
	slow.Go(func() {
		head := "POST /api/v1/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
		took, err := trickle(addr, head, strings.Repeat(" ", 499), bodyReadTimeout+timeoutSlack)
		t.Logf("slow body: answered or closed after %v", took)
		if err != nil || took > bodyReadTimeout+timeoutSlack {
			t.Errorf("slow body: answered or closed after %v, %v; want within %v (BodyReadTimeout)", took, err, bodyReadTimeout)
		}
	})
	wg.Wait()
	slow.Wait()
	if len(failures) > 0 {
		t.Errorf("%d failures under volume, first: %s", len(failures), strings.Join(failures[:min(5, len(failures))], "; "))
	}

	// Alive and correct afterwards.
	if got := statusOf(client, srv.base+"/healthz"); got != http.StatusOK {
		t.Fatalf("/healthz after the catalogue: %d", got)
	}
	signUp(t, api, "afterwards")
	form := url.Values{"username": {"hostile"}, "password": {loadPassword}}.Encode()
	if a := send(client, "POST", api+"/token", "", "application/x-www-form-urlencoded", form); a.status != http.StatusOK {
		t.Errorf("the first account no longer logs in: %d %s", a.status, a.body)
	}
	// Template syntax is legal in an email and a name: it is kept as text,
	// never evaluated.
	var me struct {
		Email    string `json:"email"`
		FullName string `json:"full_name"`
	}
	a := send(client, "POST", api+"/register", "", "application/json", `{"email":"${7*7}{{7*7}}@example.com","username":"tmpl","password":"`+loadPassword+`"}`)
	if a.status != http.StatusCreated || json.Unmarshal(a.body, &me) != nil || me.Email != "${7*7}{{7*7}}@example.com" {
		t.Errorf("template text in email: %d %s, want 201 and the text kept verbatim", a.status, a.body)
	}
	a = send(client, "PUT", api+"/users/me", good, "application/json", `{"full_name":"{{7*7}} ${7*7} <%= 7*7 %>"}`)
	if a.status != http.StatusOK || json.Unmarshal(a.body, &me) != nil || me.FullName != "{{7*7}} ${7*7} <%= 7*7 %>" {
		t.Errorf("template text in full_name: %d %s, want 200 and the text kept verbatim", a.status, a.body)
	}
}

// rawStatus writes request on a fresh connection and returns the status of
// the answer.
func rawStatus(addr, request string) (int, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		return 0, err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// trickle writes head, then rest one byte every 200 ms, and returns how
// long the server took to answer or close the connection, or an error if
// it kept it open past limit or answered 2xx.
func trickle(addr, head, rest string, limit time.Duration) (time.Duration, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	start := time.Now()
	_ = conn.SetDeadline(start.Add(limit))
	if _, err := io.WriteString(conn, head); err != nil {
		return 0, err
	}
	answered := make(chan error, 1)
	go func() {
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			res.Body.Close()
			if res.StatusCode < 400 {
				err = fmt.Errorf("status %d, want 4xx or a closed connection", res.StatusCode)
			}
		} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
			err = nil // closed by the server
		}
		answered <- err
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case err := <-answered:
			return time.Since(start), err
		case <-tick.C:
			if i < len(rest) {
				_, _ = conn.Write([]byte{rest[i]})
			}
		}
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// tamper changes one character in the middle of token's signature, always
// to a different one (every middle base64url character carries 6 full bits,
// so the signature bytes change).
func tamper(token string) string {
	i := len(token) - 10
	c := byte('A')
	if token[i] == c {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}
