package main

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestNoLeaksAfterLoad runs a burst of traffic from many clients against
// an in-process usersvc, closes the clients, and checks that the process's
// goroutines and live heap come back near what they were before the burst:
// no goroutine per request or connection, no cache growing per user or
// request left behind. It is not parallel, so that other tests' goroutines
// do not blur the count.
func TestNoLeaksAfterLoad(t *testing.T) {
	srv := start(t, append([]string{"USERSVC_DATA_DIR=" + t.TempDir()}, loadEnv...))
	api := srv.base + "/api/v1"
	const (
		clients       = 32
		rounds        = 5
		goroutineSlop = 5
		heapSlop      = 16 << 20
	)
	burst := func(prefix string, clients, rounds int) {
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
	// Warm up: the pools open their connections, lazily built state is built.
	burst("warm", clients, 2)
	baseGoroutines, baseHeap := settle()

	burst("load", clients, rounds)

	var goroutines int
	var heap uint64
	deadline := time.Now().Add(15 * time.Second)
	for {
		goroutines, heap = settle()
		if goroutines <= baseGoroutines+goroutineSlop && heap <= baseHeap+heapSlop {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("after the burst: %d goroutines (baseline %d), heap %d KiB (baseline %d KiB)\n%s",
				goroutines, baseGoroutines, heap>>10, baseHeap>>10, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("goroutines %d (baseline %d), heap %d KiB (baseline %d KiB)", goroutines, baseGoroutines, heap>>10, baseHeap>>10)
}

// settle collects garbage and returns the goroutine count and live heap.
func settle() (int, uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc
}
