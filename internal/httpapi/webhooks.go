package httpapi

import (
	"context"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/webhook"
)

// Webhook administration (webhook.Service): every route is behind a.admin,
// and the service checks the role again.

// webhookRead is an endpoint on the wire: never its secret.
type webhookRead struct {
	ID                  uuid.UUID  `json:"id"`
	URL                 string     `json:"url"`
	Description         string     `json:"description"`
	Types               []string   `json:"types" doc:"The event types it receives; \"*\" is every type"`
	Enabled             bool       `json:"enabled"`
	FailingSince        *time.Time `json:"failing_since" doc:"When deliveries began failing without a success since; null when the last one succeeded. An endpoint failing for USERSVC_WEBHOOK_RETRY_FOR is disabled"`
	PreviousSecretUntil *time.Time `json:"previous_secret_until" doc:"After a rotation, until when the previous secret signs beside the new one (a past time: it no longer does); null when there was no rotation"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toWebhookRead(e webhook.Endpoint) webhookRead {
	r := webhookRead{
		ID: e.ID, URL: e.URL, Description: e.Description, Types: e.Types, Enabled: e.Enabled,
		FailingSince: optionalTime(e.FailingSince), CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
	if e.PreviousSecret != nil {
		r.PreviousSecretUntil = optionalTime(e.PreviousUntil)
	}
	if r.Types == nil {
		r.Types = []string{}
	}
	return r
}

// WebhookRead is webhookRead under an exported name, so that huma inlines
// its fields where it is embedded (it skips unexported embedded types,
// which encoding/json inlines: the document would lack the fields sent).
type WebhookRead = webhookRead

// webhookWithSecret is an endpoint with its new signing secret, shown once.
type webhookWithSecret struct {
	WebhookRead
	Secret string `json:"secret" doc:"The signing secret (whsec_...): shown only now; keep it to verify the webhook-signature header"`
}

type webhookInput struct {
	ID string `path:"id" format:"uuid" doc:"The endpoint's id"`
}

type webhookCreateInput struct {
	Body struct {
		URL         string   `json:"url" minLength:"1" maxLength:"2048" pattern:"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]+" patternDescription:"an http or https URL" example:"https://hooks.example.com/usersvc" doc:"Where events are POSTed: https (http is accepted outside production); a destination resolving to a private address is refused unless USERSVC_WEBHOOK_ALLOW_PRIVATE=on"`
		Description string   `json:"description,omitempty" maxLength:"255"`
		Types       []string `json:"types" minItems:"1" maxItems:"32" nullable:"false" doc:"Event types to receive, from the catalogue, or \"*\" for every type"`
		Enabled     *bool    `json:"enabled,omitempty" doc:"false registers it disabled; default true"`
	}
}

type webhookUpdateInput struct {
	ID   string `path:"id" format:"uuid" doc:"The endpoint's id"`
	Body struct {
		URL         *string   `json:"url,omitempty" minLength:"1" maxLength:"2048" pattern:"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]+" patternDescription:"an http or https URL" example:"https://hooks.example.com/usersvc"`
		Description *string   `json:"description,omitempty" maxLength:"255"`
		Types       *[]string `json:"types,omitempty" minItems:"1" maxItems:"32" nullable:"false"`
		Enabled     *bool     `json:"enabled,omitempty" doc:"true re-enables an endpoint disabled for failing, with a fresh retry window"`
	}
}

type webhookOutput struct{ Body webhookRead }

type webhookSecretOutput struct{ Body webhookWithSecret }

type webhookListOutput struct {
	Body struct {
		Items []webhookRead `json:"items"`
	}
}

// attemptRead is one attempt of a delivery.
type attemptRead struct {
	N          int       `json:"n"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code" doc:"The receiver's HTTP status; 0 when none came"`
	Error      string    `json:"error" doc:"Why it failed; empty when it succeeded"`
	DurationMS float64   `json:"duration_ms"`
}

// deliveryRead is one event's delivery to an endpoint.
type deliveryRead struct {
	ID            uuid.UUID     `json:"id"`
	EventID       string        `json:"event_id" doc:"Also the webhook-id header: the same at every attempt and replay"`
	EventType     string        `json:"event_type"`
	State         string        `json:"state" enum:"pending,succeeded,failed"`
	NextAttemptAt *time.Time    `json:"next_attempt_at" doc:"When a pending delivery is tried again; null otherwise"`
	Attempts      []attemptRead `json:"attempts"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
}

func toDeliveryRead(d webhook.DeliveryRecord) deliveryRead {
	r := deliveryRead{
		ID: d.ID, EventID: d.EventID, EventType: d.EventType, State: d.State, NextAttemptAt: optionalTime(d.NextAt),
		Attempts: make([]attemptRead, len(d.Attempts)), CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
	for i, a := range d.Attempts {
		r.Attempts[i] = attemptRead{
			N: a.N, At: a.At, StatusCode: a.Status, Error: a.Error, DurationMS: float64(a.Duration.Microseconds()) / 1000,
		}
	}
	return r
}

type deliveryOutput struct{ Body deliveryRead }

type deliveriesInput struct {
	ID    string `path:"id" format:"uuid" doc:"The endpoint's id"`
	Limit int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Deliveries to list, newest first"`
}

type deliveriesOutput struct {
	Body struct {
		Items []deliveryRead `json:"items"`
	}
}

type replayInput struct {
	ID       string `path:"id" format:"uuid" doc:"The endpoint's id"`
	Delivery string `path:"delivery" format:"uuid" doc:"The delivery's id"`
}

// webhookTarget returns the webhook service and the endpoint id the path
// names.
func (a *api) webhookTarget(_ context.Context, id string) (*webhook.Service, uuid.UUID, error) {
	if a.webhooks == nil {
		return nil, uuid.Nil, webhook.ErrUnavailable
	}
	target, err := uuid.Parse(id)
	if err != nil {
		return nil, uuid.Nil, webhook.ErrEndpointNotFound
	}
	return a.webhooks, target, nil
}

func (a *api) createWebhook(ctx context.Context, in *webhookCreateInput) (*webhookSecretOutput, error) {
	me, err := currentUser(ctx)
	if err == nil && a.webhooks == nil {
		err = webhook.ErrUnavailable
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	b := in.Body
	e, secret, err := a.webhooks.Create(ctx, me, webhook.NewEndpoint{
		URL: b.URL, Description: b.Description, Types: b.Types, Disabled: b.Enabled != nil && !*b.Enabled,
	})
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &webhookSecretOutput{Body: webhookWithSecret{toWebhookRead(e), string(secret)}}, nil
}

func (a *api) listWebhooks(ctx context.Context, _ *struct{}) (*webhookListOutput, error) {
	me, err := currentUser(ctx)
	if err == nil && a.webhooks == nil {
		err = webhook.ErrUnavailable
	}
	var es []webhook.Endpoint
	if err == nil {
		es, err = a.webhooks.List(ctx, me)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	out := &webhookListOutput{}
	out.Body.Items = make([]webhookRead, len(es))
	for i, e := range es {
		out.Body.Items[i] = toWebhookRead(e)
	}
	return out, nil
}

func (a *api) getWebhook(ctx context.Context, in *webhookInput) (*webhookOutput, error) {
	me, err := currentUser(ctx)
	svc, id, terr := a.webhookTarget(ctx, in.ID)
	var e webhook.Endpoint
	if err = firstErr(err, terr); err == nil {
		e, err = svc.Get(ctx, me, id)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &webhookOutput{Body: toWebhookRead(e)}, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *api) updateWebhook(ctx context.Context, in *webhookUpdateInput) (*webhookOutput, error) {
	me, err := currentUser(ctx)
	svc, id, terr := a.webhookTarget(ctx, in.ID)
	var e webhook.Endpoint
	if err = firstErr(err, terr); err == nil {
		b := in.Body
		e, err = svc.Update(ctx, me, id, webhook.EndpointPatch{URL: b.URL, Description: b.Description, Types: b.Types, Enabled: b.Enabled})
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &webhookOutput{Body: toWebhookRead(e)}, nil
}

func (a *api) deleteWebhook(ctx context.Context, in *webhookInput) (*struct{}, error) {
	me, err := currentUser(ctx)
	svc, id, terr := a.webhookTarget(ctx, in.ID)
	if err = firstErr(err, terr); err == nil {
		err = svc.Delete(ctx, me, id)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return nil, nil
}

func (a *api) rotateWebhookSecret(ctx context.Context, in *webhookInput) (*webhookSecretOutput, error) {
	me, err := currentUser(ctx)
	svc, id, terr := a.webhookTarget(ctx, in.ID)
	var e webhook.Endpoint
	var secret webhook.Secret
	if err = firstErr(err, terr); err == nil {
		e, secret, err = svc.RotateSecret(ctx, me, id)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &webhookSecretOutput{Body: webhookWithSecret{toWebhookRead(e), string(secret)}}, nil
}

func (a *api) testWebhook(ctx context.Context, in *webhookInput) (*deliveryOutput, error) {
	me, err := currentUser(ctx)
	svc, id, terr := a.webhookTarget(ctx, in.ID)
	var d webhook.DeliveryRecord
	if err = firstErr(err, terr); err == nil {
		d, err = svc.SendTest(ctx, me, id)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &deliveryOutput{Body: toDeliveryRead(d)}, nil
}

func (a *api) listWebhookDeliveries(ctx context.Context, in *deliveriesInput) (*deliveriesOutput, error) {
	me, err := currentUser(ctx)
	svc, id, terr := a.webhookTarget(ctx, in.ID)
	var ds []webhook.DeliveryRecord
	if err = firstErr(err, terr); err == nil {
		ds, err = svc.Deliveries(ctx, me, id, in.Limit)
	}
	if err != nil {
		return nil, a.queryProblem(ctx, err)
	}
	out := &deliveriesOutput{}
	out.Body.Items = make([]deliveryRead, len(ds))
	for i, d := range ds {
		out.Body.Items[i] = toDeliveryRead(d)
	}
	return out, nil
}

func (a *api) replayWebhookDelivery(ctx context.Context, in *replayInput) (*deliveryOutput, error) {
	me, err := currentUser(ctx)
	svc, id, terr := a.webhookTarget(ctx, in.ID)
	delivery, derr := uuid.Parse(in.Delivery)
	if derr != nil {
		derr = webhook.ErrDeliveryNotFound
	}
	var d webhook.DeliveryRecord
	if err = firstErr(err, terr, derr); err == nil {
		d, err = svc.Replay(ctx, me, id, delivery)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &deliveryOutput{Body: toDeliveryRead(d)}, nil
}

// documentWebhookTypes makes the types of the webhook bodies an enum of
// the catalogue (and "*"); the service checks them itself, so huma's
// validation keeps the plain list.
func documentWebhookTypes(doc *huma.OpenAPI) {
	types := []any{webhook.AllTypes}
	for _, t := range webhook.Types {
		types = append(types, t)
	}
	for _, name := range []string{"WebhookCreateInputBody", "WebhookUpdateInputBody"} {
		if s := doc.Components.Schemas.Map()[name]; s != nil && s.Properties["types"] != nil && s.Properties["types"].Items != nil {
			items := *s.Properties["types"].Items
			items.Enum = types
			s.Properties["types"].Items = &items
		}
	}
}
