package main

import (
	"strings"
	"testing"
	"time"
)

// soakOf makes samples every 20 s for 15 minutes whose session and token
// counts are rows(t) and whose oldest rows are age(t) old.
func soakOf(rows func(t time.Duration) int64, age func(t time.Duration) time.Duration) []sample {
	var s []sample
	for t := time.Duration(0); t <= 15*time.Minute; t += 20 * time.Second {
		n := rows(t)
		s = append(s, sample{
			t:           t,
			sessions:    tableCount{rows: n},
			tokens:      tableCount{rows: 3 * n},
			sessionsAge: age(t), tokensAge: age(t),
			logins: int64(t.Seconds() * 4),
		})
	}
	return s
}

var params = verdictParams{warmup: 8 * time.Minute, bound: 8*time.Minute + 30*time.Second, band: 0.2, duration: 15 * time.Minute, runs: 15, wantRuns: 14}

// sawtooth fills for 8 minutes, then each minute's run removes a
// minute's inflow: what working retention looks like.
func sawtooth(t time.Duration) int64 {
	if t < 8*time.Minute {
		return int64(t.Seconds() * 2)
	}
	return 960 + int64((t%time.Minute).Seconds()*4) - 120
}

func ageSawtooth(t time.Duration) time.Duration { return min(t, 7*time.Minute+(t%time.Minute)) }

func TestJudgePassesASteadySawtooth(t *testing.T) {
	v := judge(soakOf(sawtooth, ageSawtooth), params)
	if !v.ok {
		t.Fatalf("judge failed a steady soak: %v", v.reasons)
	}
	if v.steady != 22 {
		t.Errorf("steady samples = %d, want 22 (8:00 to 15:00 every 20 s)", v.steady)
	}
}

func TestJudgeFailsWhatRetentionDoesNotBound(t *testing.T) {
	for _, tt := range []struct {
		name string
		rows func(time.Duration) int64
		age  func(time.Duration) time.Duration
		p    verdictParams
		want string
	}{
		{"linear growth (retention never runs)",
			func(t time.Duration) int64 { return int64(t.Seconds() * 4) },
			func(t time.Duration) time.Duration { return t },
			params, "outside ±20%"},
		{"retention ran once, then the table grew again",
			func(t time.Duration) int64 {
				if t < 9*time.Minute {
					return sawtooth(t)
				}
				return sawtooth(9*time.Minute) + int64((t-9*time.Minute).Seconds()*4)
			},
			ageSawtooth, params, "sessions: between"},
		{"an old row stays",
			sawtooth,
			func(t time.Duration) time.Duration { return t },
			params, "beyond the bound"},
		{"too few runs logged",
			sawtooth, ageSawtooth,
			verdictParams{warmup: params.warmup, bound: params.bound, band: 0.2, duration: params.duration, runs: 1, wantRuns: 14},
			"retention ran 1 times"},
		{"a soak shorter than the warm-up",
			sawtooth, ageSawtooth,
			verdictParams{warmup: time.Hour, bound: 2 * time.Hour, band: 0.2, duration: params.duration, runs: -1},
			"no sample after the warm-up"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := judge(soakOf(tt.rows, tt.age), tt.p)
			if v.ok {
				t.Fatal("judge passed it")
			}
			if got := strings.Join(v.reasons, "; "); !strings.Contains(got, tt.want) {
				t.Errorf("reasons = %q, want one containing %q", got, tt.want)
			}
		})
	}
}

func TestSlope(t *testing.T) {
	if got := slope([]float64{0, 1, 2, 3}, []float64{5, 7, 9, 11}); got != 2 {
		t.Errorf("slope = %v, want 2", got)
	}
}
