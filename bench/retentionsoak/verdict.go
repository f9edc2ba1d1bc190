package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// verdictParams are what judge holds the samples to.
type verdictParams struct {
	warmup   time.Duration // lifetime + retention + interval: the tables fill until then
	bound    time.Duration // the oldest row's age never exceeds it
	band     float64       // steady counts stay within mean × (1 ± band)
	duration time.Duration // the soak's length: the mean is over its second half
	runs     int           // retention runs the service logged (-1: unknown)
	wantRuns int           // the fewest that a working schedule makes
}

// tableVerdict is one session table's steady state.
type tableVerdict struct {
	name           string
	mean, lo, hi   float64 // mean over the second half; lowest and highest after the warm-up
	slope          float64 // rows a minute after the warm-up (least squares)
	inflow         float64 // rows a minute created (what growth without retention would be)
	maxAge         time.Duration
	inBand, bounds bool
}

// verdict is judge's answer.
type verdict struct {
	ok          bool
	steady      int // samples after the warm-up
	tables      []tableVerdict
	auditGrowth float64 // audit rows a minute over the soak
	reasons     []string
	runs        int
	wantRuns    int
}

// judge checks that after the warm-up each session table stays within
// the band around its mean over the second half (a linear growth leaves
// it), that no sample saw a row older than the bound, and that retention
// ran on its schedule.
func judge(s []sample, p verdictParams) verdict {
	var v verdict
	from := max(p.warmup, p.duration/2)
	for _, name := range []string{"sessions", "refresh_tokens"} {
		tv := tableVerdict{name: name, lo: math.Inf(1), hi: math.Inf(-1), bounds: true}
		var sum float64
		var n int
		var xs, ys []float64
		for _, sm := range s {
			c, age := sm.sessions, sm.sessionsAge
			if name == "refresh_tokens" {
				c, age = sm.tokens, sm.tokensAge
			}
			tv.maxAge = max(tv.maxAge, age)
			if sm.t < p.warmup {
				continue
			}
			y := float64(c.rows)
			tv.lo, tv.hi = min(tv.lo, y), max(tv.hi, y)
			xs, ys = append(xs, sm.t.Minutes()), append(ys, y)
			if sm.t >= from {
				sum += y
				n++
			}
		}
		tv.bounds = tv.maxAge <= p.bound
		if !tv.bounds {
			v.reasons = append(v.reasons, fmt.Sprintf("%s: a row %s old, beyond the bound %s", name, tv.maxAge.Round(time.Second), p.bound))
		}
		if n == 0 {
			tv.lo, tv.hi = 0, 0
			v.tables = append(v.tables, tv)
			continue
		}
		v.steady = len(xs)
		tv.mean = sum / float64(n)
		tv.slope = slope(xs, ys)
		tv.inBand = tv.lo >= tv.mean*(1-p.band) && tv.hi <= tv.mean*(1+p.band) && tv.mean > 0
		if !tv.inBand {
			v.reasons = append(v.reasons, fmt.Sprintf("%s: between %.0f and %.0f after the warm-up, outside ±%.0f%% of its mean %.0f", name, tv.lo, tv.hi, 100*p.band, tv.mean))
		}
		v.tables = append(v.tables, tv)
	}
	if v.steady == 0 {
		v.reasons = append(v.reasons, errNoSamples.Error())
	}
	if p.runs >= 0 && p.runs < p.wantRuns {
		v.reasons = append(v.reasons, fmt.Sprintf("retention ran %d times, at least %d expected", p.runs, p.wantRuns))
	}
	if len(s) > 1 {
		first, last := s[0], s[len(s)-1]
		if d := (last.t - first.t).Minutes(); d > 0 {
			v.auditGrowth = float64(last.audit.rows-first.audit.rows) / d
			v.tables[0].inflow = float64(last.logins-first.logins) / d
		}
	}
	v.runs, v.wantRuns = p.runs, p.wantRuns
	v.ok = len(v.reasons) == 0
	return v
}

// slope is the least-squares slope of ys over xs (0 with fewer than two).
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// header is the sample table's header; row one of its lines.
const header = "     t  sessions  refresh  audit   removed s/rt   oldest s/rt (db)   oldest s/rt (metric)  logins  load1"

func row(s sample) string {
	return fmt.Sprintf("%6s  %8d  %7d  %5d  %7.0f/%-7.0f  %7s/%-7s  %9s/%-9s  %6d  %5.2f",
		fmtDur(s.t), s.sessions.rows, s.tokens.rows, s.audit.rows, s.removedSessions, s.removedTokens,
		fmtDur(s.sessionsAge), fmtDur(s.tokensAge),
		fmtDur(time.Duration(s.metricOldestSessions*float64(time.Second))), fmtDur(time.Duration(s.metricOldestTokens*float64(time.Second))),
		s.logins, s.load1)
}

// fmtDur prints d as m:ss.
func fmtDur(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// report prints the samples, the load's figures and the verdict.
func report(out io.Writer, o options, s []sample, st *stats, v verdict) {
	fmt.Fprintf(out, "\n%s\n", header)
	var load float64
	for _, sm := range s {
		fmt.Fprintln(out, row(sm))
		load += sm.load1
	}
	secs := st.elapsed.Seconds()
	fmt.Fprintf(out, "\nrequests: %d in %s (%.1f/s): %d logins (%.2f/s), %d refreshes, %d logouts, %d failed, %d logins skipped (too many sessions in flight)\n",
		st.requests.Load(), st.elapsed.Round(time.Second), float64(st.requests.Load())/secs,
		st.logins.Load(), float64(st.logins.Load())/secs, st.refreshes.Load(), st.logouts.Load(), st.failed.Load(), st.skipped.Load())
	if e, ok := st.firstError.Load().(string); ok {
		fmt.Fprintf(out, "first failure: %s\n", e)
	}
	fmt.Fprintf(out, "logins: p50 %s, p99 %s, max %s (bcrypt cost %d)\n", st.loginP50.Round(100*time.Microsecond), st.loginP99.Round(100*time.Microsecond), st.loginMx.Round(time.Millisecond), o.cost)
	if len(s) > 0 {
		load /= float64(len(s))
	}
	fmt.Fprintf(out, "load average (1 min) over the samples: mean %.2f; at the end %s\n", load, loadAvg())
	fmt.Fprintf(out, "retention runs logged: %d (at least %d expected)\n", v.runs, v.wantRuns)
	fmt.Fprintf(out, "warm-up (lifetime + retention + interval): %s; steady samples: %d; band ±%.0f%% of the mean over t ≥ %s; age bound %s\n",
		o.lifetime+o.retention+o.interval, v.steady, 100*o.band, fmtDur(max(o.lifetime+o.retention+o.interval, o.duration/2)), o.lifetime+o.retention+o.interval+o.slack)
	for _, tv := range v.tables {
		fmt.Fprintf(out, "  %-15s mean %6.0f, after the warm-up %6.0f–%-6.0f (%+5.1f%% / %+5.1f%%), trend %+7.1f rows/min, oldest row %s: %s\n",
			tv.name, tv.mean, tv.lo, tv.hi, pct(tv.lo, tv.mean), pct(tv.hi, tv.mean), tv.slope, fmtDur(tv.maxAge), passFail(tv.inBand && tv.bounds))
	}
	if len(v.tables) > 0 {
		fmt.Fprintf(out, "  (without retention sessions would grow by %.0f rows/min)\n", v.tables[0].inflow)
	}
	fmt.Fprintf(out, "  audit_events    grows %.0f rows/min (USERSVC_AUDIT_RETENTION is at least 24h: linear during a soak, as expected)\n", v.auditGrowth)
	if v.ok {
		fmt.Fprintln(out, "verdict: PASS: retention keeps sessions and refresh_tokens at a steady size")
		return
	}
	fmt.Fprintf(out, "verdict: FAIL: %s\n", strings.Join(v.reasons, "; "))
}

func pct(x, mean float64) float64 {
	if mean == 0 {
		return 0
	}
	return 100 * (x - mean) / mean
}

func passFail(ok bool) string {
	if ok {
		return "steady"
	}
	return "NOT steady"
}
