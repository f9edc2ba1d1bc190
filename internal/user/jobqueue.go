package user

import (
	"context"
	"slices"
	"strconv"
	"time"
)

// Job is a job of the durable queue (mail, an event for a consumer) as an
// administrator sees it: never its arguments (an address, a sealed token).
type Job struct {
	ID          int64
	Kind        string // "mail", "event" (the fan-out) or "event_delivery"
	Queue       string
	State       string // one of JobStates
	Attempt     int
	MaxAttempts int
	CreatedAt   time.Time
	ScheduledAt time.Time // when it runs (next)
	FinalizedAt time.Time // zero while not finished
	LastError   string    // the last attempt's error, "" when none
}

// JobStates are the states a job can be in: discarded is a job that used
// its attempts (kept with its last error, retryable); cancelled one given
// up at once (mail that can never be sent as it is).
var JobStates = []string{"available", "scheduled", "running", "retryable", "completed", "discarded", "cancelled", "pending"}

// JobQueue is the administration of the durable job queue.
type JobQueue interface {
	// Jobs returns up to limit jobs in state ("" for any), newest first.
	Jobs(ctx context.Context, state string, limit int) ([]Job, error)
	// RetryJob makes the job id run again as soon as possible, its
	// attempts back; ErrJobNotFound when there is none, ErrJobCompleted
	// when it has completed.
	RetryJob(ctx context.Context, id int64) (Job, error)
}

// Job page sizes.
const (
	MaxJobPage     = 100
	DefaultJobPage = 50
)

// Jobs lists the queue's jobs in state ("" for any), newest first, for an
// administrator only (ErrForbidden). An unknown state is a ValidationError
// of the field "state". Without a queue (the in-memory store) the list is
// empty.
func (s *Service) Jobs(ctx context.Context, actor User, state string, limit int) ([]Job, error) {
	if err := requireAdmin(actor); err != nil {
		return nil, err
	}
	if state != "" && !slices.Contains(JobStates, state) {
		return nil, invalid("state", CodeJobState, JobStates)
	}
	if limit <= 0 {
		limit = DefaultJobPage
	}
	if s.jobQueue == nil {
		return []Job{}, nil
	}
	return s.jobQueue.Jobs(ctx, state, min(limit, MaxJobPage))
}

// RetryJob makes the job id run again (a discarded mail gets its attempts
// back), for an administrator only, and audits it. A completed job is
// not run again (ErrJobCompleted): its mail went out.
func (s *Service) RetryJob(ctx context.Context, actor User, id int64) (Job, error) {
	if err := requireAdmin(actor); err != nil {
		return Job{}, err
	}
	if s.jobQueue == nil {
		return Job{}, ErrJobNotFound
	}
	j, err := s.jobQueue.RetryJob(ctx, id)
	if err != nil {
		return Job{}, err
	}
	s.record(ctx, AuditJobRetried, actor.ID, actor.ID, map[string]string{"job_id": strconv.FormatInt(id, 10), "job_kind": j.Kind, "queue": j.Queue})
	return j, nil
}
