// Package webhook delivers the service's events to HTTP endpoints that
// operators register: signed per the Standard Webhooks specification
// (https://www.standardwebhooks.com), sent through a client that refuses
// private destinations, retried with exponential backoff and jitter, and
// recorded attempt by attempt so that an administrator can see and replay
// them. It owns its ports (Endpoints, Deliveries); the stores implement
// them, and the domain (internal/user) knows nothing of webhooks.
package webhook

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/event"
)

// Event is one thing that happened to a user, as the event catalogue
// (internal/event) describes it.
type Event = event.Event

// wireEvent is the body of a delivery: Event with its JSON names.
type wireEvent struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Time    time.Time       `json:"time"`
	Subject uuid.UUID       `json:"subject"`
	Seq     int64           `json:"seq"`
	Data    json.RawMessage `json:"data"`
}

// payload is the body sent for e.
func payload(e Event) ([]byte, error) {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return json.Marshal(wireEvent{ID: e.ID, Type: e.Type, Time: e.Time.UTC(), Subject: e.Subject, Seq: e.Seq, Data: data})
}

// Types an endpoint may subscribe to besides the catalogue's
// (internal/event.Types).
const (
	// AllTypes subscribes an endpoint to every type, present and future.
	AllTypes = "*"
	// TestType is the type of the event "send a test event" delivers; no
	// endpoint subscribes to it, every endpoint can be sent one.
	TestType = "webhook.test"
)

// Types lists the catalogue's event types, in its order.
var Types = func() []string {
	names := make([]string, len(event.Types))
	for i, t := range event.Types {
		names[i] = t.Name
	}
	return names
}()

// validType reports whether t may be subscribed to.
func validType(t string) bool { return t == AllTypes || event.Known(t) }

// Errors of the webhook package. Stores return ErrEndpointNotFound and
// ErrDeliveryNotFound; the Service the rest.
var (
	ErrEndpointNotFound = errors.New("webhook endpoint not found")
	ErrDeliveryNotFound = errors.New("webhook delivery not found")
	ErrEndpointDisabled = errors.New("webhook endpoint is disabled: enable it first")
	// ErrEndpointChanged is what SaveEndpoint returns when the endpoint
	// changed since its writer read it.
	ErrEndpointChanged = errors.New("webhook endpoint changed meanwhile")
	ErrUnavailable     = errors.New("webhooks are unavailable: USERSVC_KEY_ENCRYPTION_KEY is required to keep their secrets in production")
	// ErrRefused says a destination is not one webhooks may be sent to.
	ErrRefused = errors.New("destination refused")
	// ErrClaimLost is what SaveDelivery returns when the delivery is no
	// longer as its claimer left it: another claimer (a replica whose
	// RunDue found the claim expired, a replay) took it meanwhile.
	ErrClaimLost = errors.New("webhook delivery claim lost")
	// ErrDeliveryInProgress says a delivery is being attempted right now,
	// so a replay would send it twice at once: try again shortly.
	ErrDeliveryInProgress = errors.New("webhook delivery is being attempted: try again shortly")
	// ErrAccountDeleted says a replay would send a deleted account's
	// event after its user.deleted, giving the receiver back what the
	// deletion took.
	ErrAccountDeleted = errors.New("the event's account was deleted: only its user.deleted may be sent again")
)
