package systemtest

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSIGTERMFinishesInFlightRequests sends SIGTERM to the process while a
// slow login (bcrypt cost 13) is being served: the login must complete,
// the database be closed and the process exit 0.
func TestSIGTERMFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	srv := start(t, "USERSVC_BCRYPT_COST=13")
	if got := call(t, "POST", srv.base+"/api/v1/register", "", "application/json",
		`{"email":"slow@example.com","username":"slow","password":"correct horse"}`, nil); got != http.StatusCreated {
		t.Fatalf("register: %d", got)
	}
	loginDone := make(chan answer, 1)
	go func() {
		form := url.Values{"username": {"slow"}, "password": {"correct horse"}}.Encode()
		loginDone <- send(&http.Client{Timeout: callTimeout}, "POST", srv.base+"/api/v1/token", "", "application/x-www-form-urlencoded", form)
	}()
	inFlight := regexp.MustCompile(`(?m)^usersvc_http_requests_in_flight (\d+)`)
	waitFor(t, 10*time.Second, "the login in flight", func() bool {
		m := inFlight.FindStringSubmatch(getText(t, srv.ops+"/metrics"))
		if m == nil {
			t.Fatal("/metrics has no usersvc_http_requests_in_flight")
		}
		n, _ := strconv.Atoi(m[1])
		return n >= 1 // the login (the scrape goes to the operations listener, not counted)
	})

	err := srv.stop(t)
	if a := <-loginDone; a.status != http.StatusOK {
		t.Errorf("the in-flight login got %d (%v), want 200: shutdown must let it finish", a.status, a.err)
	}
	if err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"database closed"`, `"msg":"stopped"`} {
		if !strings.Contains(srv.logs(), want) {
			t.Errorf("logs lack %s:\n%s", want, srv.logs())
		}
	}
}
