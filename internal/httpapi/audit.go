package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// auditEventRead is the public face of a user.AuditEvent.
type auditEventRead struct {
	ID        int64             `json:"id" doc:"Increases with every event. GET /admin/audit, GET /users/me/audit and the export list newest first by at, then id"`
	At        time.Time         `json:"at"`
	Kind      string            `json:"kind" doc:"What happened, e.g. login.failed (see the kind filter of GET /admin/audit)"`
	ActorID   *string           `json:"actor_id" format:"uuid" nullable:"true" doc:"Who acted; null for an anonymous caller (a failed login) or the operator"`
	SubjectID *string           `json:"subject_id" format:"uuid" nullable:"true" doc:"Whose account it is about; null when the request named no existing account"`
	IP        string            `json:"ip" doc:"The client address"`
	UserAgent string            `json:"user_agent" doc:"The client's User-Agent (at most 255 bytes)"`
	RequestID string            `json:"request_id" doc:"The X-Request-ID of the request, to find it in the logs"`
	Detail    map[string]string `json:"detail" doc:"Specifics, never a secret: e.g. {\"reason\": \"wrong_password\"}, {\"fields\": \"email,full_name\"}, {\"session_id\": ...}"`
}

func toAuditEventRead(e user.AuditEvent) auditEventRead {
	r := auditEventRead{
		ID: e.ID, At: e.At.UTC(), Kind: string(e.Kind), IP: e.IP, UserAgent: e.UserAgent,
		RequestID: e.RequestID, Detail: e.Detail,
	}
	if r.Detail == nil {
		r.Detail = map[string]string{}
	}
	if e.ActorID != uuid.Nil {
		r.ActorID = new(e.ActorID.String())
	}
	if e.SubjectID != uuid.Nil {
		r.SubjectID = new(e.SubjectID.String())
	}
	return r
}

func toAuditEventsRead(events []user.AuditEvent) []auditEventRead {
	out := make([]auditEventRead, len(events))
	for i, e := range events {
		out[i] = toAuditEventRead(e)
	}
	return out
}

// auditPage is one page of a listing of events.
type auditPage struct {
	Items      []auditEventRead `json:"items"`
	NextCursor *string          `json:"next_cursor" nullable:"true" doc:"Pass as cursor (with the same filters) for the next, older page; null on the last page"`
}

type auditPageOutput struct{ Body auditPage }

func toAuditPage(p user.AuditPage) *auditPageOutput {
	out := &auditPageOutput{Body: auditPage{Items: toAuditEventsRead(p.Events)}}
	if p.Next.ID > 0 {
		out.Body.NextCursor = new(p.Next.String())
	}
	return out
}

// errBadCursor is a cursor that no listing handed out.
var errBadCursor = &user.ValidationError{Field: "cursor", Message: "is not a next_cursor of an earlier page of this listing"}

// decodeCursor returns the position of a cursor, the zero one for none.
func decodeCursor(c string) (user.AuditCursor, error) {
	cur, err := user.ParseAuditCursor(c)
	if err != nil {
		return user.AuditCursor{}, errBadCursor
	}
	return cur, nil
}

type adminAuditInput struct {
	SubjectID string   `query:"subject_id" format:"uuid" doc:"Only events about this account"`
	ActorID   string   `query:"actor_id" format:"uuid" doc:"Only events by this account"`
	Kind      []string `query:"kind,explode" doc:"Only events of these kinds: repeat the parameter or give a comma-separated list"`
	Since     instant  `query:"since" doc:"Only events at or after this time (RFC 3339 date-time)"`
	Until     instant  `query:"until" doc:"Only events before this time (RFC 3339 date-time)"`
	Limit     int      `query:"limit" minimum:"1" maximum:"100" default:"50" doc:"Events per page"`
	Cursor    string   `query:"cursor" maxLength:"64" doc:"The next_cursor of the previous page, opaque. A cursor of a release before the listing in time order (one without a time) still goes on to the end of its listing, in id order; a cursor of this listing is refused by that release (422, code validation_failed)"`
}

// listAuditEvents is the administrators' view of the audit log.
func (a *api) listAuditEvents(ctx context.Context, in *adminAuditInput) (*auditPageOutput, error) {
	me, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	f := user.AuditFilter{Since: in.Since.Time(), Until: in.Until.Time(), Limit: in.Limit}
	cur, err := decodeCursor(in.Cursor)
	if err != nil {
		return nil, a.queryProblem(ctx, err)
	}
	f.BeforeAt, f.BeforeID = cur.At, cur.ID
	if f.SubjectID, err = optionalID("subject_id", in.SubjectID); err != nil {
		return nil, a.queryProblem(ctx, err)
	}
	if f.ActorID, err = optionalID("actor_id", in.ActorID); err != nil {
		return nil, a.queryProblem(ctx, err)
	}
	for _, list := range in.Kind {
		for k := range strings.SplitSeq(list, ",") {
			if k = strings.TrimSpace(k); k != "" {
				f.Kinds = append(f.Kinds, user.AuditKind(k))
			}
		}
	}
	p, err := a.users.AuditEvents(ctx, me, f)
	if err != nil {
		return nil, a.queryProblem(ctx, err)
	}
	return toAuditPage(p), nil
}

// optionalID parses the query parameter name, uuid.Nil when absent.
func optionalID(name, s string) (uuid.UUID, error) {
	if s == "" {
		return uuid.Nil, nil
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, &user.ValidationError{Field: name, Message: "must be a UUID"}
	}
	return id, nil
}

type myAuditInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Events per page"`
	Cursor string `query:"cursor" maxLength:"64" doc:"The next_cursor of the previous page, opaque. A cursor of a release before the listing in time order (one without a time) still goes on to the end of its listing, in id order; a cursor of this listing is refused by that release (422, code validation_failed)"`
}

// listMyAudit shows the caller the security events about their account.
func (a *api) listMyAudit(ctx context.Context, in *myAuditInput) (*auditPageOutput, error) {
	me, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	cur, err := decodeCursor(in.Cursor)
	if err != nil {
		return nil, a.queryProblem(ctx, err)
	}
	p, err := a.users.MyAudit(ctx, me, cur, in.Limit)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return toAuditPage(p), nil
}

// exportedSession is a session as the export shows it: every one,
// ended or not.
type exportedSession struct {
	ID         string     `json:"id" format:"uuid"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt time.Time  `json:"last_used_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at" nullable:"true" doc:"When it was ended (logout, revocation, password change); null if never"`
	UserAgent  string     `json:"user_agent"`
	IP         string     `json:"ip"`
	ClientID   *string    `json:"client_id" nullable:"true" doc:"The client_id its login named, the only client that may refresh it; null for a login that named none (the first-party frontend), or a session from before the service kept its client"`
}

// userExport is everything the service keeps about the caller: the
// document GET /users/me/export streams (writeExport), field by field in
// this order.
type userExport struct {
	ExportedAt    time.Time             `json:"exported_at"`
	Profile       userRead              `json:"profile"`
	Sessions      []exportedSession     `json:"sessions" doc:"Every session, revoked and expired ones included, oldest first"`
	Passkeys      []exportedPasskey     `json:"passkeys" doc:"Every passkey, oldest first: never its public key, credential id or signature counter"`
	SecondFactors mfaStatus             `json:"second_factors" doc:"The second factors, as GET /users/me/mfa says them: never the authenticator's secret or a recovery code"`
	EmailChanges  []exportedEmailChange `json:"email_changes" doc:"Every change of the email address still kept (retention removes ended ones), oldest first: never the undo link's token or its hash"`
	PendingLinks  []exportedLink        `json:"pending_links" doc:"The links mailed to the account (email verification, password reset) that still work at exported_at, oldest first: never the token or its hash"`
	AppConsents   []exportedConsent     `json:"app_consents" doc:"What the account allowed the OpenID provider's relying parties, by client id"`
	AppGrants     []exportedGrant       `json:"app_grants" doc:"What each sign-in at the OpenID provider gave a relying party, revoked ones included (retention removes ended ones), oldest first: never a token or its hash"`
	AuditEvents   []auditEventRead      `json:"audit_events" doc:"Every security event about the account, newest first"`
}

// exportMe hands the caller their data as a JSON download, streamed: the
// events are written as the service reads them, a page at a time, so that
// an account with a million events costs the memory of one page.
func (a *api) exportMe(ctx context.Context, _ *struct{}) (*huma.StreamResponse, error) {
	me, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	x, err := a.users.Export(ctx, me)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", "application/json")
		hctx.SetHeader("Content-Disposition", `attachment; filename="usersvc-export.json"`)
		hctx.SetHeader("Cache-Control", "no-store")
		hctx.SetStatus(http.StatusOK)
		if err := writeExport(hctx.BodyWriter(), x, a.exportWait); err != nil {
			// The 200 is sent: the only way left to tell the client that the
			// document is incomplete is to break the response off, so that
			// it never takes a truncated export for a whole one.
			logger(ctx).LogAttrs(ctx, slog.LevelError, "export broken off", slog.String("error", err.Error()))
			panic(http.ErrAbortHandler)
		}
	}}, nil
}

// exportBuffer is how much of the document is written at once.
const exportBuffer = 32 << 10

// exportWriteWait is how long the export waits for its client to take one
// buffer of the document, unless Options.ExportWriteWait says otherwise.
// The server's WriteTimeout bounds a whole answer (30 s from the request),
// which the export of a large account outlives; the export moves its
// connection's write deadline on before each write instead, so that a
// client that reads slowly gets everything and one that stops reading is
// still let go. The last deadline stays on the connection: app.Serve's
// WriteTimeout sets a new one for its next request.
const exportWriteWait = 30 * time.Second

// writeDeadlines is an http.ResponseWriter whose every write may take
// wait, whenever it starts.
type writeDeadlines struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	wait time.Duration
}

func (d writeDeadlines) Write(b []byte) (int, error) {
	// An error means a writer without deadlines (a test's recorder): the
	// server's bound, if any, stays.
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.wait))
	return d.w.Write(b)
}

// WriteExport writes x to w as GET /api/v1/users/me/export does: the
// hosted pages' download is the same document.
func WriteExport(w io.Writer, x user.Export) error { return writeExport(w, x, exportWriteWait) }

// writeExport writes x to w as a userExport, one session and one event
// at a time, a buffer at a time. When w is the response, each buffer has
// wait to be written, however long the export takes in all.
func writeExport(w io.Writer, x user.Export, wait time.Duration) error {
	if rw, ok := w.(http.ResponseWriter); ok {
		w = writeDeadlines{w: rw, rc: http.NewResponseController(rw), wait: wait}
	}
	bw := bufio.NewWriterSize(w, exportBuffer)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // as huma's own JSON
	field := func(name string, v any) error {
		_, _ = bw.WriteString(name)
		return enc.Encode(v)
	}
	err := errors.Join(
		field(`{"exported_at":`, x.At.UTC()),
		field(`,"profile":`, toUserRead(x.Profile)))
	if err == nil {
		err = writeArray(bw, enc, `,"sessions":`, x.Sessions, toExportedSession)
	}
	if err == nil {
		err = errors.Join(
			field(`,"passkeys":`, mapEach(x.Passkeys, toExportedPasskey)),
			field(`,"second_factors":`, toMFAStatus(x.SecondFactors)),
			field(`,"email_changes":`, mapEach(x.EmailChanges, func(c user.EmailChange) exportedEmailChange { return toExportedEmailChange(c, x.At) })),
			field(`,"pending_links":`, mapEach(x.PendingLinks, toExportedLink)),
			field(`,"app_consents":`, mapEach(x.Consents, toExportedConsent)),
			field(`,"app_grants":`, mapEach(x.Grants, toExportedGrant)))
	}
	if err == nil {
		err = writeArray(bw, enc, `,"audit_events":`, x.Events, toAuditEventRead)
	}
	if err != nil {
		return err
	}
	_, _ = bw.WriteString("}\n")
	return bw.Flush() // bufio keeps the first write error, returned here
}

// writeArray writes name, then the array of f of every element seq
// yields, one at a time, and stops at seq's first error, returning it.
func writeArray[T, U any](bw *bufio.Writer, enc *json.Encoder, name string, seq iter.Seq2[T, error], f func(T) U) error {
	_, _ = bw.WriteString(name + "[")
	first := true
	for v, err := range seq {
		if err != nil {
			return err
		}
		if !first {
			_ = bw.WriteByte(',')
		}
		first = false
		if err := enc.Encode(f(v)); err != nil {
			return err
		}
	}
	_ = bw.WriteByte(']')
	return nil
}

func toExportedSession(s user.Session) exportedSession {
	e := exportedSession{
		ID: s.ID.String(), CreatedAt: s.CreatedAt.UTC(), LastUsedAt: s.LastUsedAt.UTC(),
		ExpiresAt: s.ExpiresAt.UTC(), UserAgent: s.UserAgent, IP: s.IP,
	}
	if !s.RevokedAt.IsZero() {
		e.RevokedAt = new(s.RevokedAt.UTC())
	}
	if s.ClientID != "" && !s.AnyClient {
		e.ClientID = new(s.ClientID)
	}
	return e
}

// documentExport describes the streamed answer of GET /users/me/export,
// which huma cannot derive from a StreamResponse: a userExport (the
// UserExport schema) and its download headers.
func documentExport(doc *huma.OpenAPI) {
	op := doc.Paths["/api/v1/users/me/export"].Get
	schema := doc.Components.Schemas.Schema(reflect.TypeFor[userExport](), true, "")
	res := op.Responses[strconv.Itoa(http.StatusOK)]
	if res == nil {
		res = &huma.Response{}
		op.Responses[strconv.Itoa(http.StatusOK)] = res
	}
	res.Description = "Everything kept about the current user, streamed"
	res.Content = map[string]*huma.MediaType{"application/json": {Schema: schema}}
	res.Headers = map[string]*huma.Param{
		"Content-Disposition": {Schema: &huma.Schema{Type: huma.TypeString}, Description: `attachment; filename="usersvc-export.json"`},
		"Cache-Control":       {Schema: &huma.Schema{Type: huma.TypeString}, Description: "no-store"},
	}
}
