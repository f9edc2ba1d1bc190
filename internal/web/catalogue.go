package web

import (
	"fmt"
	"maps"
)

// Catalogue is every string the pages show, by key. Templates read it
// with {{t "key"}}; handlers name keys, never text. A missing key is an
// error when the page is rendered (and a test failure: see
// TestEveryKeyUsedIsInTheCatalogue), never an empty spot. Texts may hold
// fmt verbs, filled from t's further arguments.
type Catalogue map[string]string

// text is the message of key with args, or an error naming a missing key.
func (c Catalogue) text(key string, args ...any) (string, error) {
	m, ok := c[key]
	if !ok {
		return "", fmt.Errorf("web: no message %q in the catalogue", key)
	}
	if len(args) > 0 {
		return fmt.Sprintf(m, args...), nil
	}
	return m, nil
}

// Messages is the default catalogue, in English. A deployment's
// translation starts from a copy of it.
func Messages() Catalogue { return maps.Clone(english) }

var english = Catalogue{
	"lang":                    "en",
	"skip":                    "Skip to content",
	"nav.label":               "Account",
	"nav.account":             "Profile",
	"nav.password":            "Password",
	"nav.sessions":            "Sessions",
	"nav.passkeys":            "Passkeys",
	"passkeys.title":          "Passkeys",
	"passkeys.intro":          "A passkey signs you in with your device's screen lock or a security key, without your password.",
	"passkeys.none":           "You have no passkey yet.",
	"passkeys.add":            "Add a passkey",
	"passkeys.name":           "Name of the new passkey",
	"passkeys.needs_script":   "Adding a passkey needs JavaScript and a browser that supports passkeys.",
	"passkeys.rename":         "Rename",
	"passkeys.new_name":       "New name for %s",
	"passkeys.remove":         "Remove",
	"passkeys.kind.hwk":       "bound to one device",
	"passkeys.kind.swk":       "synced across devices",
	"sign_in.passkey":         "Sign in with a passkey",
	"notice.passkey_added":    "The passkey is added.",
	"notice.passkey_renamed":  "The passkey is renamed.",
	"notice.passkey_removed":  "The passkey is removed.",
	"error.passkey_not_found": "There is no such passkey.",
	"error.passkey_taken":     "This passkey is registered already.",
	"error.passkey_too_many":  "You have too many passkeys: remove one first.",
	"error.passkey_ceremony":  "That took too long or was already used: try again.",
	"error.passkey_failed":    "The passkey could not be verified.",
	"error.passkey_name":      "A passkey name is 1 to 64 characters.",
	"nav.sign_out":            "Sign out",
	"field.login":             "Username or email",
	"field.password":          "Password",
	"field.new_password":      "New password",
	"field.current_password":  "Current password",
	"field.email":             "Email",
	"field.username":          "Username",
	"field.full_name":         "Name",
	"field.optional":          "(optional)",
	"hint.new_password":       "At least 8 characters. A long phrase is easiest to remember.",
	"hint.username":           "3 to 32 letters, digits, dots, dashes or underscores.",
	"hint.profile_password":   "Needed only to change your email address.",
	"hint.delete_password":    "Enter your password to confirm. This cannot be undone.",

	"sign_in.title":      "Sign in",
	"sign_in.submit":     "Sign in",
	"sign_in.forgot":     "Forgot your password?",
	"sign_in.sign_up":    "No account yet? Sign up",
	"sign_up.title":      "Create an account",
	"sign_up.submit":     "Sign up",
	"sign_up.sign_in":    "Already have an account? Sign in",
	"sign_up.done.title": "Check your email",
	"sign_up.done.body":  "Your account is ready. We have sent a link to your email address: open it to verify the address, then sign in.",
	"forgot.title":       "Reset your password",
	"forgot.intro":       "Enter the email address of your account and we will send you a link to choose a new password.",
	"forgot.submit":      "Send the link",
	"forgot.done.title":  "Check your email",
	"forgot.done.body":   "If an account uses that address, a link to reset its password is on its way. It works once and expires soon.",
	"reset.title":        "Choose a new password",
	"reset.submit":       "Set the password",
	"verify.title":       "Verify your email address",
	"verify.intro":       "Confirm that this email address is yours.",
	"verify.submit":      "Verify my email address",
	"verify.done.title":  "Email address verified",
	"verify.done.body":   "Thank you: your email address is verified.",
	"undo.title":         "Undo the email change",
	"undo.intro":         "Your account's email address was changed. If you did not do this, undo it: the previous address comes back and every session ends.",
	"undo.submit":        "Undo the change",
	"undo.done.title":    "Email change undone",
	"undo.done.body":     "Your previous email address is back and every session has ended. Sign in again, and change your password if someone else knew it.",
	"continue_sign_in":   "Continue to sign in",
	"continue_account":   "Go to your account",

	"account.title":           "Your account",
	"account.profile":         "Profile",
	"account.submit":          "Save",
	"account.verified":        "Your email address is verified.",
	"account.unverified":      "Your email address is not verified yet: open the link we mailed you.",
	"account.data":            "Your data",
	"account.data.body":       "Download everything we keep about you, as a JSON file.",
	"account.export":          "Download my data",
	"account.delete":          "Delete my account",
	"password.title":          "Change your password",
	"password.intro":          "Other sessions are signed out when you change it.",
	"password.submit":         "Change the password",
	"sessions.title":          "Your sessions",
	"sessions.intro":          "Every place where you are signed in. Sign out any you do not recognise.",
	"sessions.address":        "Address",
	"sessions.started":        "Signed in",
	"sessions.this":           "This session",
	"sessions.end":            "Sign out this one",
	"sessions.end_label":      "Sign out the session from %s",
	"sessions.end_others":     "Sign out all other sessions",
	"sessions.unknown_device": "Unknown device",
	"delete.title":            "Delete your account",
	"delete.intro":            "Your account, your sessions and your profile are removed for good.",
	"delete.submit":           "Delete my account for good",

	"notice.signed_out":       "You are signed out.",
	"notice.password_reset":   "Your password is set. Sign in with it.",
	"notice.password_changed": "Your password is changed. Your other sessions are signed out.",
	"notice.profile_saved":    "Your profile is saved.",
	"notice.email_changed":    "Your profile is saved. We sent a link to your new address to verify it.",
	"notice.session_ended":    "The session is signed out.",
	"notice.others_ended":     "Every other session is signed out.",
	"notice.deleted":          "Your account is deleted.",
	"notice.sign_in_needed":   "Sign in to continue.",

	"error.title":               "Something went wrong",
	"error.form":                "Please correct the fields marked below.",
	"error.required":            "This field is required.",
	"error.invalid_credentials": "The username, email or password is incorrect.",
	"error.wrong_password":      "The password is incorrect.",
	"error.locked":              "Too many failed sign-ins for this account. Wait a while, then try again.",
	"error.rate_limited":        "Too many attempts. Wait a moment, then try again.",
	"error.busy":                "The service is busy. Try again in a moment.",
	"error.unavailable":         "The service is temporarily unavailable. Try again later.",
	"error.email_not_verified":  "Verify your email address first: we have sent you a new link.",
	"error.email_taken":         "An account already uses this email address.",
	"error.username_taken":      "This username is taken.",
	"error.invalid_token":       "This link is invalid, expired or already used. Ask for a new one.",
	"error.reauth":              "Enter your current password to change your email address.",
	"error.last_admin":          "This would leave no active administrator: make another user an administrator first.",
	"error.already_verified":    "Your email address is already verified.",
	"error.session_not_found":   "That session is already signed out.",
	"error.cross_site":          "This form was sent from another site, so it was refused. Go back to the page and try again.",
	"error.internal":            "Something went wrong on our side. Try again later.",
}
