package config

import (
	"strings"
	"testing"
)

func TestBootstrapAdminAllOrNone(t *testing.T) {
	full := []string{
		"USERSVC_BOOTSTRAP_ADMIN_EMAIL=root@example.com",
		"USERSVC_BOOTSTRAP_ADMIN_USERNAME=root",
		"USERSVC_BOOTSTRAP_ADMIN_PASSWORD=a long secret phrase",
	}
	c, err := Load(full, "")
	if err != nil {
		t.Fatalf("Load(all three) error = %v", err)
	}
	if !c.BootstrapAdmin() || c.BootstrapAdminEmail != "root@example.com" || c.BootstrapAdminUsername != "root" ||
		c.BootstrapAdminPassword != "a long secret phrase" {
		t.Errorf("Load(all three) = %+v, want the three values", c.Bootstrap)
	}
	if c, err := Load(nil, ""); err != nil || c.BootstrapAdmin() {
		t.Errorf("Load(none) = bootstrap %v, %v; want none, nil", c.BootstrapAdmin(), err)
	}
	for _, tt := range []struct {
		name    string
		environ []string
		want    []string // variables the error must name
	}{
		{"email only", full[:1], []string{EnvBootstrapUsername, EnvBootstrapPassword}},
		{"password only", full[2:], []string{EnvBootstrapEmail, EnvBootstrapUsername}},
		{"no password", full[:2], []string{EnvBootstrapPassword}},
		{"not an email", []string{"USERSVC_BOOTSTRAP_ADMIN_EMAIL=root", full[1], full[2]}, []string{EnvBootstrapEmail}},
		{"short password", []string{full[0], full[1], "USERSVC_BOOTSTRAP_ADMIN_PASSWORD=short"}, []string{EnvBootstrapPassword}},
	} {
		_, err := Load(tt.environ, "")
		if err == nil {
			t.Errorf("%s: Load succeeded, want an error", tt.name)
			continue
		}
		for _, name := range tt.want {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("%s: error %q does not name %s", tt.name, err, name)
			}
		}
		if strings.Contains(err.Error(), "a long secret phrase") || strings.Contains(err.Error(), "=short") {
			t.Errorf("%s: error %q shows the password", tt.name, err)
		}
	}
}
