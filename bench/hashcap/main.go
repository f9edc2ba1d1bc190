// Command hashcap measures the machine's password-hashing capacity at a
// bcrypt cost: the median time of one hash on an otherwise idle process,
// and cores divided by it, the most logins or registrations per second the
// service could ever answer. It prints "<ms per hash> <hashes per second>".
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/usersvc/usersvc/internal/security"
)

func main() {
	cost := flag.Int("cost", 10, "bcrypt cost")
	runs := flag.Int("n", 15, "hashes to time")
	flag.Parse()
	h, err := security.NewBcrypt(*cost)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hashcap:", err)
		os.Exit(1)
	}
	times := make([]time.Duration, 0, *runs)
	for range *runs {
		start := time.Now()
		if _, err := h.Hash("bench-password"); err != nil {
			fmt.Fprintln(os.Stderr, "hashcap:", err)
			os.Exit(1)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	median := times[len(times)/2]
	ms := float64(median.Microseconds()) / 1000
	fmt.Printf("%.1f %.1f\n", ms, float64(runtime.NumCPU())/median.Seconds())
}
