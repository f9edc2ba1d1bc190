package httpapi

import (
	"context"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// jobRead is a job of the durable queue on the wire: never its arguments.
type jobRead struct {
	ID          int64      `json:"id"`
	Kind        string     `json:"kind" doc:"mail, event (fans an event out to its consumers) or event_delivery (one consumer)"`
	Queue       string     `json:"queue" doc:"mail_security (reset and email-change mail), mail, or events"`
	State       string     `json:"state" doc:"available, scheduled, running, retryable, completed, discarded (used its attempts: retry it), cancelled (could never succeed as it is)"`
	Attempt     int        `json:"attempt"`
	MaxAttempts int        `json:"max_attempts"`
	CreatedAt   time.Time  `json:"created_at"`
	ScheduledAt time.Time  `json:"scheduled_at" doc:"When it runs (next)"`
	FinalizedAt *time.Time `json:"finalized_at,omitempty"`
	LastError   string     `json:"last_error,omitempty" doc:"The last attempt's error"`
}

func toJobRead(j user.Job) jobRead {
	r := jobRead{
		ID: j.ID, Kind: j.Kind, Queue: j.Queue, State: j.State, Attempt: j.Attempt, MaxAttempts: j.MaxAttempts,
		CreatedAt: j.CreatedAt, ScheduledAt: j.ScheduledAt, LastError: j.LastError,
	}
	if !j.FinalizedAt.IsZero() {
		r.FinalizedAt = &j.FinalizedAt
	}
	return r
}

type listJobsInput struct {
	State string `query:"state" enum:"available,scheduled,running,retryable,completed,discarded,cancelled,pending" doc:"Only jobs in this state (discarded: mail or events that used their attempts)"`
	Limit int    `query:"limit" minimum:"1" maximum:"100" default:"50" doc:"Jobs to return"`
}

type jobListOutput struct {
	Body struct {
		Jobs []jobRead `json:"jobs" doc:"Newest first"`
	}
}

// listJobs is the administrators' view of the job queue.
func (a *api) listJobs(ctx context.Context, in *listJobsInput) (*jobListOutput, error) {
	me, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	jobs, err := a.users.Jobs(ctx, me, in.State, in.Limit)
	if err != nil {
		return nil, a.queryProblem(ctx, err)
	}
	out := &jobListOutput{}
	out.Body.Jobs = make([]jobRead, 0, len(jobs))
	for _, j := range jobs {
		out.Body.Jobs = append(out.Body.Jobs, toJobRead(j))
	}
	return out, nil
}

type jobInput struct {
	ID int64 `path:"id" minimum:"1" example:"1" doc:"The job's id"`
}

type jobOutput struct{ Body jobRead }

// retryJob runs a job again (a discarded mail gets its attempts back).
func (a *api) retryJob(ctx context.Context, in *jobInput) (*jobOutput, error) {
	me, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	j, err := a.users.RetryJob(ctx, me, in.ID)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &jobOutput{Body: toJobRead(j)}, nil
}
