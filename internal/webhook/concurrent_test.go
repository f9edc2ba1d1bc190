package webhook_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/webhook"
)

// beforeSave is Endpoints that runs hook once, before the first save.
type beforeSave struct {
	webhook.Endpoints
	hook func()
}

func (b *beforeSave) SaveEndpoint(ctx context.Context, e webhook.Endpoint, was time.Time) error {
	if h := b.hook; h != nil {
		b.hook = nil
		h()
	}
	return b.Endpoints.SaveEndpoint(ctx, e, was)
}

// An administrator's change of an endpoint (its description) keeps the
// secret another administrator rotated between its read and its write,
// say because the old one leaked: the change used to write back the whole
// endpoint as read, undoing the rotation without a word (the new secret,
// shown once, never signed; the old one went on signing).
func TestUpdateKeepsAConcurrentRotation(t *testing.T) {
	var eps *beforeSave
	f := newFixtureOver(t, webhook.Config{AllowPrivate: true}, func() float64 { return 0.5 }, func(s *webhook.Stores) {
		eps = &beforeSave{Endpoints: s.Endpoints}
		s.Endpoints = eps
	})
	e, _ := f.create(t, "http://hooks.example/x", webhook.AllTypes)
	var rotated []byte
	eps.hook = func() {
		if _, _, err := f.svc.RotateSecret(t.Context(), admin, e.ID); err != nil {
			t.Fatal(err)
		}
		now, _ := f.mem.Stores().Endpoints.Endpoint(t.Context(), e.ID)
		rotated = now.Secret
	}
	desc := "billing"
	if _, err := f.svc.Update(t.Context(), admin, e.ID, webhook.EndpointPatch{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	got, _ := f.mem.Stores().Endpoints.Endpoint(t.Context(), e.ID)
	if rotated == nil || got.Description != desc {
		t.Fatalf("rotated %v, description %q: want a rotation, then the change", rotated != nil, got.Description)
	}
	if !bytes.Equal(got.Secret, rotated) {
		t.Error("the change undid the rotation committed between its read and its write: the old secret is back")
	}
}
