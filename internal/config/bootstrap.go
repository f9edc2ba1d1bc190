package config

import (
	"strings"
	"unicode/utf8"
)

// Bootstrap names a first administrator that `usersvc serve` creates (or
// promotes) at start when the service has no active administrator. Config
// embeds it, so its variables sit beside the others. All three are set or
// none.
type Bootstrap struct {
	BootstrapAdminEmail    string `env:"USERSVC_BOOTSTRAP_ADMIN_EMAIL"`
	BootstrapAdminUsername string `env:"USERSVC_BOOTSTRAP_ADMIN_USERNAME"`
	// BootstrapAdminPassword is a secret, never logged; better given as a
	// file in USERSVC_BOOTSTRAP_ADMIN_PASSWORD_FILE than in the environment.
	BootstrapAdminPassword string `env:"USERSVC_BOOTSTRAP_ADMIN_PASSWORD" secret:"true"`
}

// The bootstrap variables, for messages.
const (
	EnvBootstrapEmail    = "USERSVC_BOOTSTRAP_ADMIN_EMAIL"
	EnvBootstrapUsername = "USERSVC_BOOTSTRAP_ADMIN_USERNAME"
	EnvBootstrapPassword = "USERSVC_BOOTSTRAP_ADMIN_PASSWORD" // #nosec G101 -- the variable's name, not a credential
)

// BootstrapAdmin reports whether a first administrator is configured.
func (b *Bootstrap) BootstrapAdmin() bool { return b.BootstrapAdminEmail != "" }

func (b *Bootstrap) validate(bad func(name, format string, args ...any)) {
	set := map[string]bool{
		EnvBootstrapEmail:    b.BootstrapAdminEmail != "",
		EnvBootstrapUsername: b.BootstrapAdminUsername != "",
		EnvBootstrapPassword: b.BootstrapAdminPassword != "",
	}
	if set[EnvBootstrapEmail] || set[EnvBootstrapUsername] || set[EnvBootstrapPassword] {
		for _, name := range []string{EnvBootstrapEmail, EnvBootstrapUsername, EnvBootstrapPassword} {
			if !set[name] {
				bad(name, "must be set with the other USERSVC_BOOTSTRAP_ADMIN_* variables: all three or none")
			}
		}
	}
	if b.BootstrapAdminEmail != "" && !strings.Contains(b.BootstrapAdminEmail, "@") {
		bad(EnvBootstrapEmail, "is not an email address")
	}
	// The password's value is never echoed; the service applies the full
	// password policy at start.
	if p := b.BootstrapAdminPassword; p != "" && (utf8.RuneCountInString(p) < 8 || len(p) > 72) {
		bad(EnvBootstrapPassword, "must be 8 characters to 72 bytes")
	}
}
