package httpapi

import (
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
)

// bearerAuth names the OpenAPI security scheme of the routes behind a token.
const bearerAuth = "bearerAuth"

// routes registers the whole surface; authed marks the routes that need a
// bearer token. Every route that writes, mails or exports has a limit per
// client address (limited, checked first) and one per account (byAccount,
// or bySession where an intruder must not use up the owner's count),
// checked once the token is accepted: limits.go.
func (a *api) routes() {
	a.accountRoutes()
	a.auditRoutes()
	a.adminRoutes()
	a.lifecycleRoutes()
	a.webhookRoutes()
	a.passkeyRoutes()
	a.mfaRoutes()
	a.clientRoutes()
}

// accountRoutes registers the account's own routes: registration, login
// and logout, the profile, its sessions and its password.
func (a *api) accountRoutes() {
	api, l := a.huma, a.limits
	huma.Register(api, a.limited(l.Register, a.op("POST /api/v1/register", "register", http.StatusCreated, "Register a new user")), a.register)
	huma.Register(api, a.tokenOp(a.op("POST /api/v1/token", "login", http.StatusOK, "Log in, or refresh, to get an access and a refresh token", http.StatusUnauthorized, http.StatusForbidden)), a.token)
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Write, a.op("POST /api/v1/logout", "logout", http.StatusNoContent, "End the current session, or every session with scope=all")))), a.logout)
	huma.Register(api, a.authed(a.op("GET /api/v1/users/me", "readMe", http.StatusOK, "Get current user profile")), a.readMe)
	// An email change also counts against l.EmailChange, l.Mail and l.MailRecipient (updateMe).
	huma.Register(api, a.byAccount(l.WriteAccount, a.authed(a.limited(l.Write, a.op("PUT /api/v1/users/me", "updateMe", http.StatusOK, "Update current user profile", http.StatusForbidden)))), a.updateMe)
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Write, a.op("DELETE /api/v1/users/me", "deleteMe", http.StatusNoContent, "Delete current user account", http.StatusForbidden, http.StatusConflict)))), a.deleteMe)
	huma.Register(api, a.strictQuery(a.authed(a.op("GET /api/v1/users/me/sessions", "listSessions", http.StatusOK, "List the current user's active sessions"))), a.listSessions)
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Write, a.op("DELETE /api/v1/users/me/sessions/{id}", "revokeSession", http.StatusNoContent, "End one of the current user's sessions", http.StatusNotFound)))), a.revokeSession)
	huma.Register(api, a.strictQuery(a.authed(a.op("GET /api/v1/users/me/consents", "listConsents", http.StatusOK, "List the OpenID provider's relying parties the current user consented to, by client id"))), a.listConsents)
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Write, a.op("DELETE /api/v1/users/me/consents/{client_id}", "revokeConsent", http.StatusNoContent, "Take back the current user's consent to one relying party, ending its grants and refresh tokens", http.StatusNotFound)))), a.revokeConsent)
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Password, a.op("PUT /api/v1/users/me/password", "changePassword", http.StatusNoContent, "Change current user password")))), a.changePassword)
}

// auditRoutes registers the audit log and the data export (audit.go).
func (a *api) auditRoutes() {
	api, l := a.huma, a.limits
	huma.Register(api, a.strictQuery(a.admin(a.scoped(oauthclient.ScopeAuditRead, a.op("GET /api/v1/admin/audit", "listAuditEvents", http.StatusOK, "List security events, newest first (admins only)")))), a.listAuditEvents)
	huma.Register(api, a.strictQuery(a.authed(a.op("GET /api/v1/users/me/audit", "listMyAudit", http.StatusOK, "List the security events about the current user, newest first"))), a.listMyAudit)
	huma.Register(api, a.byAccount(l.Export, a.recorded(a.authed(a.limited(l.Export, a.op("GET /api/v1/users/me/export", "exportMe", http.StatusOK, "Download everything kept about the current user as JSON"))))), a.exportMe)
	documentAuditKinds(api.OpenAPI(), a.users.AuditKinds())
	documentExport(api.OpenAPI())
	documentDateTimes(api.OpenAPI(), "/api/v1/admin/audit", "since", "until")
}

// adminRoutes registers the administration of users (admin.go) and of
// the job queue (jobs.go).
func (a *api) adminRoutes() {
	api, l := a.huma, a.limits
	// Administration (admin.go): 403 for anyone but an active administrator.
	huma.Register(api, a.strictQuery(a.admin(a.scoped(oauthclient.ScopeUsersRead, a.op("GET /api/v1/admin/users", "listUsers", http.StatusOK, "List users, filtered, a page at a time")))), a.listUsers)
	huma.Register(api, a.admin(a.scoped(oauthclient.ScopeUsersRead, a.op("GET /api/v1/admin/users/{id}", "getUser", http.StatusOK, "Get a user", http.StatusNotFound))), a.getUser)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.scoped(oauthclient.ScopeUsersWrite, a.limited(l.Write, a.op("PATCH /api/v1/admin/users/{id}", "updateUser", http.StatusOK, "Update a user's name, email, activation or role (a new email or role, or an administrator reactivated, needs a recent authentication)", http.StatusNotFound, http.StatusConflict))))), a.updateUser)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.scoped(oauthclient.ScopeUsersWrite, a.limited(l.Write, a.op("POST /api/v1/admin/users/{id}/deactivate", "deactivateUser", http.StatusOK, "Deactivate a user and end their sessions", http.StatusNotFound, http.StatusConflict))))), a.deactivateUser)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.scoped(oauthclient.ScopeUsersWrite, a.limited(l.Write, a.op("POST /api/v1/admin/users/{id}/reactivate", "reactivateUser", http.StatusOK, "Reactivate a user (an administrator needs a recent authentication)", http.StatusNotFound))))), a.reactivateUser)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.scoped(oauthclient.ScopeUsersWrite, a.limited(l.Write, a.op("DELETE /api/v1/admin/users/{id}", "deleteUser", http.StatusNoContent, "Delete a user (needs a recent authentication)", http.StatusNotFound, http.StatusConflict))))), a.deleteUser)
	// The durable job queue (jobs.go): mail and events, failed ones kept.
	huma.Register(api, a.strictQuery(a.admin(a.op("GET /api/v1/admin/jobs", "listJobs", http.StatusOK, "List the job queue's jobs (mail, events), newest first"))), a.listJobs)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.limited(l.Write, a.op("POST /api/v1/admin/jobs/{id}/retry", "retryJob", http.StatusOK, "Run a job again, a failed one with its attempts back (audited); a completed one is refused", http.StatusNotFound, http.StatusConflict)))), a.retryJob)
}

// lifecycleRoutes registers email verification, password reset,
// re-authentication, undoing an email change and token revocation.
func (a *api) lifecycleRoutes() {
	api, l := a.huma, a.limits
	// Email verification and password reset: lifecycle.go. The links' tokens
	// name the account, so these count per client address only.
	huma.Register(api, a.limited(l.Write, a.op("POST /api/v1/verify-email", "verifyEmail", http.StatusOK, "Verify the email address with the token mailed to it")), a.verifyEmail)
	// Resend and reset also count per recipient against l.MailRecipient (lifecycle.go).
	huma.Register(api, a.authed(a.limited(l.Mail, a.op("POST /api/v1/verify-email/resend", "resendVerification", http.StatusAccepted, "Mail a new verification link to the current user", http.StatusConflict))), a.resendVerification)
	huma.Register(api, a.limited(l.Mail, a.op("POST /api/v1/password-reset", "requestPasswordReset", http.StatusAccepted, "Mail a password reset link to the account of an email, if there is one")), a.requestPasswordReset)
	huma.Register(api, a.limited(l.Write, a.op("POST /api/v1/password-reset/confirm", "confirmPasswordReset", http.StatusNoContent, "Set a new password with the token of a reset mail")), a.confirmPasswordReset)
	// Re-authentication and undoing an email change (issue 17).
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Password, a.op("POST /api/v1/reauthenticate", "reauthenticate", http.StatusNoContent, "Prove the password again, so that this session may change the email or delete the account")))), a.reauthenticate)
	huma.Register(api, a.limited(l.Write, a.op("POST /api/v1/email-change/undo", "undoEmailChange", http.StatusNoContent, "Undo an email change with the token mailed to the previous address: the address comes back and every session ends")), a.undoEmailChange)
	// Token revocation, RFC 7009 (revoke.go).
	huma.Register(api, a.revokeOp(a.op("POST /api/v1/revoke", "revokeToken", http.StatusOK, "Revoke a refresh or access token: its session ends (RFC 7009)")), a.revoke)
	documentRevokeForm(api.OpenAPI())
	documentDateTimes(api.OpenAPI(), "/api/v1/admin/users", "created_after", "created_before")
}

// webhookRoutes registers webhooks (webhooks.go): administrators only,
// every change audited.
func (a *api) webhookRoutes() {
	api, l := a.huma, a.limits
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.limited(l.Write, a.op("POST /api/v1/admin/webhooks", "createWebhook", http.StatusCreated, "Register a webhook endpoint; the answer holds its signing secret, shown only once", http.StatusServiceUnavailable)))), a.createWebhook)
	huma.Register(api, a.strictQuery(a.admin(a.op("GET /api/v1/admin/webhooks", "listWebhooks", http.StatusOK, "List webhook endpoints, oldest first"))), a.listWebhooks)
	huma.Register(api, a.strictQuery(a.admin(a.op("GET /api/v1/admin/webhooks/{id}", "getWebhook", http.StatusOK, "Get a webhook endpoint", http.StatusNotFound))), a.getWebhook)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.limited(l.Write, a.op("PATCH /api/v1/admin/webhooks/{id}", "updateWebhook", http.StatusOK, "Change a webhook endpoint's URL, description, event types or whether it is enabled", http.StatusNotFound)))), a.updateWebhook)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.limited(l.Write, a.op("DELETE /api/v1/admin/webhooks/{id}", "deleteWebhook", http.StatusNoContent, "Delete a webhook endpoint and its deliveries", http.StatusNotFound)))), a.deleteWebhook)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.limited(l.Write, a.op("POST /api/v1/admin/webhooks/{id}/rotate-secret", "rotateWebhookSecret", http.StatusOK, "Give a webhook endpoint a new signing secret, shown only once; the previous one keeps signing beside it for 24 hours", http.StatusNotFound, http.StatusServiceUnavailable)))), a.rotateWebhookSecret)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.limited(l.Write, a.op("POST /api/v1/admin/webhooks/{id}/test", "testWebhook", http.StatusOK, "Send a webhook endpoint a test event now (once, not retried) and answer the delivery", http.StatusNotFound)))), a.testWebhook)
	huma.Register(api, a.strictQuery(a.admin(a.op("GET /api/v1/admin/webhooks/{id}/deliveries", "listWebhookDeliveries", http.StatusOK, "List a webhook endpoint's recent deliveries with their attempts, newest first", http.StatusNotFound))), a.listWebhookDeliveries)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.limited(l.Write, a.op("POST /api/v1/admin/webhooks/{id}/deliveries/{delivery}/replay", "replayWebhookDelivery", http.StatusOK, "Send a delivery again now, with the same webhook-id and body", http.StatusNotFound, http.StatusConflict)))), a.replayWebhookDelivery)
	documentWebhookTypes(api.OpenAPI())
}

// passkeyRoutes registers passkeys (passkeys.go, issue 22): WebAuthn
// ceremonies for single-page apps; adding one or removing one needs a
// recent authentication.
func (a *api) passkeyRoutes() {
	api, l := a.huma, a.limits
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Password, a.op("POST /api/v1/users/me/passkeys/register/options", "passkeyRegisterOptions", http.StatusOK, "Begin adding a passkey: the options for navigator.credentials.create", http.StatusForbidden, http.StatusConflict)))), a.passkeyRegisterOptions)
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Write, a.op("POST /api/v1/users/me/passkeys/register/verify", "passkeyRegisterVerify", http.StatusCreated, "Finish adding a passkey with the authenticator's response", http.StatusForbidden, http.StatusConflict)))), a.passkeyRegisterVerify)
	huma.Register(api, a.authed(a.op("GET /api/v1/users/me/passkeys", "listPasskeys", http.StatusOK, "List the current user's passkeys, oldest first")), a.listPasskeys)
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Write, a.op("PATCH /api/v1/users/me/passkeys/{id}", "renamePasskey", http.StatusOK, "Rename one of the current user's passkeys", http.StatusNotFound)))), a.renamePasskey)
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Write, a.op("DELETE /api/v1/users/me/passkeys/{id}", "removePasskey", http.StatusNoContent, "Remove one of the current user's passkeys (needs a recent authentication)", http.StatusForbidden, http.StatusNotFound)))), a.removePasskey)
	huma.Register(api, a.limited(l.Login, a.op("POST /api/v1/passkeys/login/options", "passkeyLoginOptions", http.StatusOK, "Begin a sign-in with a passkey, without a username: the options for navigator.credentials.get")), a.passkeyLoginOptions)
	huma.Register(api, a.limited(l.Login, a.op("POST /api/v1/mfa/webauthn/options", "mfaWebAuthnOptions", http.StatusOK, "Begin the passkey second step of a password login that answered 403 mfa_required with the method webauthn: the options for navigator.credentials.get; then POST /token with grant_type urn:usersvc:params:oauth:grant-type:mfa-webauthn", http.StatusBadRequest, http.StatusNotFound)), a.mfaWebAuthnOptions)
	huma.Register(api, a.limited(l.Login, a.op("POST /api/v1/passkeys/login/verify", "passkeyLoginVerify", http.StatusOK, "Finish a sign-in with a passkey: the same tokens as /token", http.StatusUnauthorized, http.StatusForbidden)), a.passkeyLoginVerify)
}

// mfaRoutes registers second factors (mfa.go): adding or removing one
// needs a recent authentication (POST /reauthenticate), as the email
// change does.
func (a *api) mfaRoutes() {
	api, l := a.huma, a.limits
	huma.Register(api, a.authed(a.op("GET /api/v1/users/me/mfa", "readMFA", http.StatusOK, "Get the current user's second factors")), a.readMFA)
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Write, a.op("POST /api/v1/users/me/mfa/totp", "enrolTOTP", http.StatusCreated, "Start enrolling a TOTP authenticator: a new secret, its otpauth:// URI and QR code, shown once", http.StatusForbidden, http.StatusConflict, http.StatusServiceUnavailable)))), a.enrolTOTP)
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Password, a.op("POST /api/v1/users/me/mfa/totp/confirm", "confirmTOTP", http.StatusOK, "Confirm the enrolled TOTP authenticator with a first code; answers ten recovery codes, shown once", http.StatusNotFound, http.StatusConflict, http.StatusTooManyRequests, http.StatusServiceUnavailable)))), a.confirmTOTP)
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Write, a.op("DELETE /api/v1/users/me/mfa/totp", "removeTOTP", http.StatusNoContent, "Remove the TOTP authenticator (needs a recent authentication)", http.StatusForbidden, http.StatusNotFound)))), a.removeTOTP)
	huma.Register(api, a.bySession(l.WriteAccount, a.authed(a.limited(l.Write, a.op("POST /api/v1/users/me/mfa/recovery-codes", "regenerateRecoveryCodes", http.StatusOK, "Replace the recovery codes by ten new ones, shown once (needs a recent authentication)", http.StatusForbidden, http.StatusNotFound)))), a.regenerateRecoveryCodes)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.limited(l.Write, a.op("DELETE /api/v1/admin/users/{id}/mfa", "resetUserMFA", http.StatusNoContent, "Remove every second factor of a user (needs a recent authentication; audited; the user is mailed)", http.StatusNotFound)))), a.resetUserMFA)
}

// clientRoutes registers OAuth clients and service accounts
// (oauthclients.go): administrators only, every change audited.
func (a *api) clientRoutes() {
	api, l := a.huma, a.limits
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.limited(l.Write, a.op("POST /api/v1/admin/clients", "createOAuthClient", http.StatusCreated, "Register an OAuth client; the answer holds a confidential client's secret, shown only once", http.StatusServiceUnavailable)))), a.createOAuthClient)
	huma.Register(api, a.strictQuery(a.admin(a.op("GET /api/v1/admin/clients", "listOAuthClients", http.StatusOK, "List OAuth clients, oldest first", http.StatusServiceUnavailable))), a.listOAuthClients)
	huma.Register(api, a.strictQuery(a.admin(a.op("GET /api/v1/admin/clients/{id}", "getOAuthClient", http.StatusOK, "Get an OAuth client", http.StatusNotFound, http.StatusServiceUnavailable))), a.getOAuthClient)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.limited(l.Write, a.op("PATCH /api/v1/admin/clients/{id}", "updateOAuthClient", http.StatusOK, "Change an OAuth client's name, redirect URIs, grant types, scopes or first-party flag", http.StatusNotFound, http.StatusServiceUnavailable)))), a.updateOAuthClient)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.limited(l.Write, a.op("DELETE /api/v1/admin/clients/{id}", "deleteOAuthClient", http.StatusNoContent, "Delete an OAuth client: its secret and its service-account tokens stop working at once", http.StatusNotFound, http.StatusServiceUnavailable)))), a.deleteOAuthClient)
	huma.Register(api, a.byAccount(l.WriteAccount, a.admin(a.limited(l.Write, a.op("POST /api/v1/admin/clients/{id}/rotate-secret", "rotateOAuthClientSecret", http.StatusOK, "Give a confidential OAuth client a new secret, shown only once; the previous one stops working at once", http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable)))), a.rotateOAuthClientSecret)
	documentClientURIs(api.OpenAPI())
}

// op describes the operation at pattern ("METHOD /path"). errs are the
// documented error statuses besides the ones every operation of its kind
// can give: 400, 413 and 415 for a request body, then 422 and 500, which
// huma adds itself.
func (a *api) op(pattern, id string, status int, summary string, errs ...int) huma.Operation {
	method, path, _ := strings.Cut(pattern, " ")
	tag := "Authentication"
	switch {
	case strings.HasPrefix(path, "/api/v1/users/"):
		tag = "Users"
	case strings.HasPrefix(path, "/api/v1/admin/"):
		tag = "Administration"
	}
	if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		errs = append(errs, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	op := huma.Operation{
		Method:        method,
		Path:          path,
		OperationID:   id,
		Summary:       summary,
		Tags:          []string{tag},
		DefaultStatus: status,
		Errors:        errs,
		// huma answers 413 once the body reaches MaxBodyBytes, so one more
		// makes a.maxBodyBytes the largest body accepted.
		MaxBodyBytes: a.maxBodyBytes + 1,
	}
	if method != http.MethodGet {
		op = a.recorded(op)
	}
	return op
}

// recorded tells the service who is calling (withClient) on op, which may
// record it; op does it for every method but GET.
func (a *api) recorded(op huma.Operation) huma.Operation {
	op.Middlewares = append(op.Middlewares, a.withClient)
	return op
}

// authed puts op behind a bearer token: authenticate runs first and the
// document lists the bearerAuth scheme and the 401.
func (a *api) authed(op huma.Operation) huma.Operation {
	op.Security = []map[string][]string{{bearerAuth: {}}}
	op.Middlewares = append(op.Middlewares, a.authenticate)
	// 403 also answers a service account's token where its scopes do not
	// reach (serviceaccount.go).
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
	return a.assured(op, false)
}

// admin puts op behind a bearer token of a user whose role, as stored now
// (not as the token says), is admin: anyone else gets 403 before the body
// is read. The service checks the role again.
func (a *api) admin(op huma.Operation) huma.Operation {
	op = a.authed(op)
	op.Middlewares = append(op.Middlewares, func(ctx huma.Context, next func(huma.Context)) {
		if me, err := currentUser(ctx.Context()); err != nil || !me.IsAdmin() {
			a.writeProblem(ctx, a.problem(ctx.Context(), user.ErrForbidden))
			return
		}
		next(ctx)
	})
	op.Errors = append(op.Errors, http.StatusForbidden)
	return a.assured(op, true)
}
