package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const password = "soak-password"

// client is the soak's HTTP client: keep-alive connections to loopback.
var client = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute},
}

// stats is what the soak's requests did.
type stats struct {
	elapsed                     time.Duration
	requests, failed, skipped   atomic.Int64
	logins, refreshes, logouts  atomic.Int64
	mu                          sync.Mutex
	loginLatency                []time.Duration
	firstError                  atomic.Value // string
	sessionsStarted, abandoned  atomic.Int64
	loginP50, loginP99, loginMx time.Duration
}

func (s *stats) fail(err error) {
	s.failed.Add(1)
	s.firstError.CompareAndSwap(nil, err.Error())
}

// register creates users soak_0 … soak_<n-1>, four at a time, again
// after a 503 (a full hashing queue on a busy machine).
func register(ctx context.Context, base string, n int) error {
	sem := make(chan struct{}, 4)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			body := fmt.Sprintf(`{"email":"soak_%d@example.com","username":"soak_%d","password":%q}`, i, i, password)
			code, _, err := post(ctx, base+"/api/v1/register", "application/json", "", body)
			for try := 1; err == nil && code == http.StatusServiceUnavailable && try < 10; try++ {
				time.Sleep(time.Duration(try) * time.Second) // the hashing queue is full: the machine is busy
				code, _, err = post(ctx, base+"/api/v1/register", "application/json", "", body)
			}
			if err == nil && code != http.StatusCreated {
				err = fmt.Errorf("register soak_%d: status %d", i, code)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// soak starts o.rate sessions a second for o.duration, each driven by
// session, while taking a sample every o.sample (at 0 and at the end too).
// Sessions still under way at the end are cut short.
func soak(ctx context.Context, o options, srv *server, progress io.Writer) ([]sample, *stats, error) {
	st := &stats{}
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(o.duration))
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		drive(ctx, o, srv.base, st)
	}()
	var samples []sample
	var err error
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * o.sample)
		last := !at.Before(start.Add(o.duration))
		if last {
			at = start.Add(o.duration)
		}
		time.Sleep(time.Until(at))
		var sm sample
		if sm, err = srv.take(context.WithoutCancel(ctx), start); err != nil {
			break
		}
		sm.requests, sm.logins, sm.skipped = st.requests.Load(), st.logins.Load(), st.skipped.Load()
		samples = append(samples, sm)
		fmt.Fprintln(progress, row(sm))
		if last {
			break
		}
	}
	cancel()
	wg.Wait()
	st.elapsed = min(time.Since(start), o.duration)
	st.summarise()
	return samples, st, err
}

// drive starts a session every 1/o.rate until ctx ends, at most
// o.maxInFlight at once, and waits for them.
func drive(ctx context.Context, o options, base string, st *stats) {
	every := time.Duration(float64(time.Second) / o.rate)
	tick := time.NewTicker(every)
	defer tick.Stop()
	sem := make(chan struct{}, o.maxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			st.skipped.Add(1)
			continue
		}
		abandon := o.abandon > 0 && n%o.abandon == o.abandon-1
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			session(ctx, o, base, fmt.Sprintf("soak_%d", n%o.users), abandon, st)
		}()
	}
}

// session logs in as name, refreshes o.refreshes times o.gap apart, and
// after another gap logs out, unless abandon.
func session(ctx context.Context, o options, base, name string, abandon bool, st *stats) {
	st.sessionsStarted.Add(1)
	t0 := time.Now()
	tok, err := grant(ctx, base, url.Values{"username": {name}, "password": {password}}, st)
	if err != nil {
		return
	}
	st.logins.Add(1)
	st.mu.Lock()
	st.loginLatency = append(st.loginLatency, time.Since(t0))
	st.mu.Unlock()
	for range o.refreshes {
		if !wait(ctx, o.gap) {
			return
		}
		if tok, err = grant(ctx, base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.Refresh}}, st); err != nil {
			return
		}
		st.refreshes.Add(1)
	}
	if abandon {
		st.abandoned.Add(1)
		return
	}
	if !wait(ctx, o.gap) {
		return
	}
	st.requests.Add(1)
	code, _, err := post(ctx, base+"/api/v1/logout", "", tok.Access, "")
	switch {
	case ctx.Err() != nil:
	case err != nil:
		st.fail(err)
	case code != http.StatusNoContent:
		st.fail(fmt.Errorf("logout: status %d", code))
	default:
		st.logouts.Add(1)
	}
}

// tokens is the answer of /token.
type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

// grant posts form to /token.
func grant(ctx context.Context, base string, form url.Values, st *stats) (tokens, error) {
	st.requests.Add(1)
	var t tokens
	code, body, err := post(ctx, base+"/api/v1/token", "application/x-www-form-urlencoded", "", form.Encode())
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("%s: status %d: %.200s", cmpGrant(form), code, body)
	}
	if err == nil {
		err = json.Unmarshal(body, &t)
	}
	if err != nil && ctx.Err() == nil {
		st.fail(err)
	}
	if ctx.Err() != nil {
		return t, ctx.Err()
	}
	return t, err
}

func cmpGrant(form url.Values) string {
	if g := form.Get("grant_type"); g != "" {
		return g
	}
	return "password"
}

// post sends body (of type ctype, with a bearer token when not empty).
func post(ctx context.Context, u, ctype, bearer, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = io.Copy(&buf, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, buf.Bytes(), err
}

// wait sleeps d, or less when ctx ends first (false then).
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// summarise computes the logins' percentiles.
func (s *stats) summarise() {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := slices.Clone(s.loginLatency)
	slices.Sort(l)
	if len(l) == 0 {
		return
	}
	s.loginP50, s.loginP99, s.loginMx = percentile(l, 0.50), percentile(l, 0.99), l[len(l)-1]
}

// percentile of sorted l (nearest rank).
func percentile(l []time.Duration, p float64) time.Duration {
	i := int(float64(len(l))*p+0.5) - 1
	return l[min(max(i, 0), len(l)-1)]
}

// errNoSamples is what judge says of a soak too short to judge.
var errNoSamples = errors.New("no sample after the warm-up: make -duration longer than lifetime + retention + interval")
