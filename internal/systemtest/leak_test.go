package systemtest

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestNoLeaksAfterLoad runs a burst of traffic from many clients against
// usersvc, closes the clients, and checks that the process's goroutines
// and live heap, as its /metrics reports them, come back near what they
// were before the burst: no goroutine per request or connection, no cache
// growing per user or request left behind. The live heap is read after a
// collection, forced through the profiling listener (/debug/pprof/heap?gc=1).
func TestNoLeaksAfterLoad(t *testing.T) {
	t.Parallel()
	pprofAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	srv := start(t, append([]string{"USERSVC_PPROF_ADDR=" + pprofAddr}, loadEnv...)...)
	api := srv.base + "/api/v1"
	const (
		clients       = 32
		rounds        = 5
		goroutineSlop = 5
		heapSlop      = 4 << 20 // the live heap is some 5 MiB; 8 KiB kept per request would show
	)
	burst := func(prefix string, rounds int) {
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				tr := &http.Transport{}
				defer tr.CloseIdleConnections()
				client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
				name := fmt.Sprintf("%s%d", prefix, c)
				body := fmt.Sprintf(`{"email":"%s@example.com","username":%q,"password":%q}`, name, name, loadPassword)
				send(client, "POST", api+"/register", "", "application/json", body)
				form := url.Values{"username": {name}, "password": {loadPassword}}.Encode()
				for range rounds {
					a := send(client, "POST", api+"/token", "", "application/x-www-form-urlencoded", form)
					send(client, "GET", api+"/users/me", "", "", "") // 401
					send(client, "POST", api+"/register", "", "application/json", `{"email":"x"}`)
					if a.status != http.StatusOK {
						t.Errorf("login %s: %d %s", name, a.status, a.body)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	settled := func() (goroutines int, heap float64) {
		collected := send(&http.Client{Timeout: callTimeout}, "GET", "http://"+pprofAddr+"/debug/pprof/heap?gc=1", "", "", "")
		if collected.status != http.StatusOK {
			t.Fatalf("forcing a collection: %d %v", collected.status, collected.err)
		}
		metrics := getText(t, srv.ops+"/metrics")
		return int(metric(t, metrics, "go_goroutines")), metric(t, metrics, "go_memstats_heap_alloc_bytes")
	}
	// Warm up: the pools open their connections, lazily built state is built.
	burst("warm", 2)
	// The job queue's leader (River) starts its maintenance goroutines once
	// elected, which may be some seconds after start (it tries every 5 s):
	// the baseline waits until the count has held still longer than that.
	last, since := -1, time.Now()
	poll(30*time.Second, func() bool {
		if g, _ := settled(); g != last {
			last, since = g, time.Now()
		}
		return time.Since(since) > 7*time.Second
	})
	baseGoroutines, baseHeap := settled()

	burst("load", rounds)

	var goroutines int
	var heap float64
	back := poll(15*time.Second, func() bool {
		goroutines, heap = settled()
		return goroutines <= baseGoroutines+goroutineSlop && heap <= baseHeap+heapSlop
	})
	if !back {
		stacks := send(&http.Client{Timeout: callTimeout}, "GET", "http://"+pprofAddr+"/debug/pprof/goroutine?debug=1", "", "", "")
		t.Fatalf("after the burst: %d goroutines (baseline %d, slop %d), heap %.0f KiB (baseline %.0f KiB, slop %d KiB)\n%s",
			goroutines, baseGoroutines, goroutineSlop, heap/1024, baseHeap/1024, heapSlop>>10, stacks.body)
	}
	t.Logf("goroutines %d (baseline %d), heap %.0f KiB (baseline %.0f KiB)", goroutines, baseGoroutines, heap/1024, baseHeap/1024)
}

// metric returns the value of the unlabelled sample name in a Prometheus
// text exposition, failing the test if there is none.
func metric(t *testing.T, exposition, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(exposition)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("/metrics %s: %v", name, err)
	}
	return v
}
