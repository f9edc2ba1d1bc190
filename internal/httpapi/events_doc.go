package httpapi

import (
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/usersvc/usersvc/internal/event"
)

// documentEvents adds the event catalogue (package event) to the OpenAPI
// document's webhooks section (OpenAPI 3.1): one entry per event type,
// the body every consumer of events receives (webhook deliveries, NATS
// messages), with the type's data.
func documentEvents(doc *huma.OpenAPI) {
	reg := doc.Components.Schemas
	if doc.Webhooks == nil {
		doc.Webhooks = map[string]*huma.PathItem{}
	}
	for _, t := range event.Types {
		name := eventSchemaName(t.Name)
		data := reg.Schema(reflect.TypeOf(t.Data), true, name+"Data")
		body := &huma.Schema{
			Type:        huma.TypeObject,
			Description: t.Description,
			Required:    []string{"id", "type", "time", "subject", "seq", "data"},
			Properties: map[string]*huma.Schema{
				"id":      {Type: huma.TypeString, Description: "The event's id: deduplicate by it (a redelivery has the same id)."},
				"type":    {Type: huma.TypeString, Enum: []any{t.Name}},
				"time":    {Type: huma.TypeString, Format: "date-time", Description: "When the change happened."},
				"subject": {Type: huma.TypeString, Format: "uuid", Description: "The account the event is about."},
				"seq":     {Type: huma.TypeInteger, Format: "int64", Minimum: new(1.0), Description: "The subject's events numbered 1, 2, 3... in the order their changes committed."},
				"data":    data,
			},
			AdditionalProperties: false,
		}
		reg.Map()[name] = body
		doc.Webhooks[t.Name] = &huma.PathItem{Post: &huma.Operation{
			OperationID: "event" + name,
			Summary:     t.Name,
			Description: t.Description + " Catalogue version " + event.Version + ".",
			Tags:        []string{"Events"},
			// The receiver authenticates a delivery by its Standard Webhooks
			// signature (the webhook-signature header), not by a scheme.
			Security: []map[string][]string{},
			RequestBody: &huma.RequestBody{
				Required: true,
				Content:  map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/" + name}}},
			},
			Responses: map[string]*huma.Response{
				"200": {Description: "Received. Any 2xx status acknowledges the event; anything else (or no answer) has it delivered again, with backoff."},
			},
		}}
	}
}

// eventSchemaName is the schema name of an event type: user.email_changed
// is UserEmailChangedEvent.
func eventSchemaName(typ string) string {
	var b strings.Builder
	for part := range strings.FieldsFuncSeq(typ, func(r rune) bool { return r == '.' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String() + "Event"
}
