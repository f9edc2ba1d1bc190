package web

import (
	"net/http"

	"github.com/usersvc/usersvc/internal/user"
)

// route is one page route: a ServeMux pattern and its handler.
type route struct {
	pattern string
	handler http.HandlerFunc
}

// routes lists every page. A page for signed-in users goes through
// signedIn, which sends anyone else to /sign-in and back, and, but for
// the account's overview and the authenticator app's pages, through
// assured, which applies the MFA policy as the API does. Every route is
// mounted behind protect (headers.go): security headers, no cross-site
// POST.
func (p *Pages) routes() []route {
	routes := []route{
		{"GET " + stylesheetPath, p.stylesheet},
		{"GET " + passkeyScriptPath, p.script},
	}
	routes = append(routes, p.secondFactorRoutes()...)
	routes = append(routes, []route{
		// Signing in and out (signin.go), signing up (signup.go).
		{"GET /sign-in", p.signInPage},
		{"POST /sign-in", p.signIn},
		{"POST /sign-in/mfa", p.signInMFA}, // the second step (mfa.go)
		{"POST /sign-out", p.signOut},
		{"GET /sign-up", p.signUpPage},
		{"POST /sign-up", p.signUp},
		// Recovery (recovery.go) and the mailed links (links.go).
		{"GET /forgot-password", p.forgotPage},
		{"POST /forgot-password", p.forgot},
		{"GET /reset-password", p.resetPage},
		{"POST /reset-password", p.reset},
		{"GET /verify-email", p.verifyPage},
		{"POST /verify-email", p.verify},
		{"GET /undo-email-change", p.undoPage},
		{"POST /undo-email-change", p.undo},
		// The account (account.go, sessions.go, data.go).
		{"GET /account", p.signedIn(p.accountPage)},
		{"POST /account/profile", p.assured(p.updateProfile)},
		{"GET /account/password", p.assured(p.passwordPage)},
		{"POST /account/password", p.assured(p.changePassword)},
		{"GET /account/sessions", p.assured(p.sessionsPage)},
		{"POST /account/sessions/end-others", p.assured(p.endOtherSessions)},
		{"POST /account/sessions/{id}/end", p.assured(p.endSession)},
		{"POST /account/export", p.assured(p.export)},
		{"GET /account/delete", p.assured(p.deletePage)},
		{"POST /account/delete", p.assured(p.deleteAccount)},
		// The admin console (admin.go), for administrators only.
		{"GET /admin", p.admin(func(w http.ResponseWriter, _ *http.Request, _ user.Caller) { redirect(w, "/admin/users") })},
		{"GET /admin/users", p.admin(p.adminUsersPage)},
		{"GET /admin/users/{id}", p.admin(p.adminUserPage)},
		{"GET /admin/users/{id}/deactivate", p.admin(p.adminDeactivatePage)},
		{"POST /admin/users/{id}/deactivate", p.admin(p.adminDeactivate)},
		{"POST /admin/users/{id}/reactivate", p.admin(p.adminReactivate)},
		{"POST /admin/users/{id}/role", p.admin(p.adminRole)},
		{"GET /admin/users/{id}/delete", p.admin(p.adminDeletePage)},
		{"POST /admin/users/{id}/delete", p.admin(p.adminDelete)},
		{"GET /admin/audit", p.admin(p.adminAuditPage)},
	}...)
	return append(routes, append(p.appRoutes(), p.adminClientRoutes()...)...) // consents.go, admin_clients.go
}

// secondFactorRoutes are the passkeys' and the authenticator app's
// routes: signing in with them and managing them.
func (p *Pages) secondFactorRoutes() []route {
	return []route{
		// Passkeys (passkeys.go): the JSON ceremonies passkey.js runs.
		{"POST /sign-in/passkey/options", p.passkeySignInOptions},
		{"POST /sign-in/passkey", p.passkeySignIn},
		{"POST /sign-in/mfa/passkey/options", p.mfaPasskeyOptions},
		{"POST /sign-in/mfa/passkey", p.mfaPasskey},
		{"GET /account/passkeys", p.assured(p.passkeysPage)},
		{"POST /account/passkeys/options", p.assured(p.addPasskeyOptions)},
		{"POST /account/passkeys", p.assured(p.addPasskey)},
		{"POST /account/passkeys/{id}/rename", p.assured(p.passkeyAction(false))},
		{"POST /account/passkeys/{id}/remove", p.assured(p.passkeyAction(true))},
		// The authenticator app and recovery codes (mfa_pages.go).
		{"GET /account/mfa", p.signedIn(p.mfaPageGet)},
		{"POST /account/mfa/setup", p.signedIn(p.setUpTOTP)},
		{"GET /account/mfa/setup", p.signedIn(p.setUpPage)}, // the new app's secret, once (onetime.go)
		{"POST /account/mfa/confirm", p.signedIn(p.confirmTOTP)},
		{"POST /account/mfa/remove", p.signedIn(p.removeTOTP)},
		{"POST /account/mfa/recovery-codes", p.signedIn(p.newRecoveryCodes)},
		{"GET /account/mfa/recovery-codes", p.signedIn(p.recoveryCodesPage)}, // new codes, once (onetime.go)
	}
}
