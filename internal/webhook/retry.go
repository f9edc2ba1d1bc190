package webhook

import "time"

// The retry schedule: the wait after the n-th failed attempt is
// firstRetry·2^(n-1), at most maxRetryWait, scaled by a random factor in
// [1-jitter, 1+jitter) so that the retries of many deliveries failing at
// once (a receiver that was down) spread out instead of arriving together.
// Over the default 72 h window this makes about 20 attempts: 30 s, 1 min,
// 2 min, ... 4 h 16 min, then every 6 h.
const (
	firstRetry   = 30 * time.Second
	maxRetryWait = 6 * time.Hour
	jitter       = 0.2
)

// DefaultRetryFor is how long a delivery is retried, and how long an
// endpoint may fail without a success before it is disabled.
const DefaultRetryFor = 72 * time.Hour

// backoff is the wait after the n-th failed attempt (n >= 1); r is a
// random number in [0, 1).
func backoff(n int, r float64) time.Duration {
	wait := maxRetryWait
	if n < 30 {
		wait = min(firstRetry<<(n-1), maxRetryWait)
	}
	return time.Duration(float64(wait) * (1 - jitter + 2*jitter*r))
}
