package app_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/config"
)

// The relying party follows USERSVC_PUBLIC_URL; an address that is not a
// domain name (an IP, config.Config.NoPasskeys) or production without a
// URL has none, so the service starts and passkeys answer 503 rather than
// the start failing.
func TestRelyingPartyFollowsThePublicURL(t *testing.T) {
	for _, c := range []struct {
		name, public, addr string
		env                string
		wantOK             bool
		wantID, wantOrigin string
	}{
		{"a domain", "https://auth.example.com", ":8080", config.Production, true, "auth.example.com", "https://auth.example.com"},
		{"a domain with a port", "http://localhost:3000", ":8080", config.Development, true, "localhost", "http://localhost:3000"},
		{"an IPv4 address", "http://127.0.0.1:8080", ":8080", config.Development, false, "", ""},
		{"an IPv6 address", "http://[::1]:8080", ":8080", config.Development, false, "", ""},
		{"development without a URL", "", ":9000", config.Development, true, "localhost", "http://localhost:9000"},
		{"production without a URL", "", ":8080", config.Production, false, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Config{PublicURL: c.public, Addr: c.addr, Env: c.env}
			if c.env == config.Development { // through Load, which sets NoPasskeys
				var err error
				if cfg, err = config.Load([]string{"USERSVC_PUBLIC_URL=" + c.public, "USERSVC_ADDR=" + c.addr}, ""); err != nil {
					t.Fatal(err)
				}
			}
			rp, ok, err := app.RelyingParty(cfg)
			if err != nil || ok != c.wantOK {
				t.Fatalf("RelyingParty = %+v, %v, %v; want ok %v", rp, ok, err, c.wantOK)
			}
			if ok && (rp.RPID != c.wantID || len(rp.Origins) != 1 || rp.Origins[0] != c.wantOrigin) {
				t.Errorf("relying party %+v, want id %s origin %s", rp, c.wantID, c.wantOrigin)
			}
		})
	}
}

// TestServiceStartsWithoutPasskeysOnAnIPPublicURL: a public URL on an IP
// address starts the service with passkeys off and the configuration's
// warning logged once.
func TestServiceStartsWithoutPasskeysOnAnIPPublicURL(t *testing.T) {
	cfg, err := config.Load([]string{"USERSVC_DATA_DIR=" + t.TempDir(), "USERSVC_BCRYPT_COST=4", "USERSVC_OPS_ADDR=off",
		"USERSVC_PUBLIC_URL=http://127.0.0.1:8080"}, "")
	if err != nil {
		t.Fatal(err)
	}
	// The job queue's goroutines log while the test reads: a locked buffer.
	var logs apptest.Buffer
	a, err := app.New(t.Context(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("New with a public URL on an IP = %v, want a start with passkeys off", err)
	}
	defer a.Close()
	if a.Passkeys() != nil {
		t.Error("passkeys are on with a public URL on an IP, want off")
	}
	if n := strings.Count(string(logs.Bytes()), "passkeys are off"); n != 1 {
		t.Errorf("the log says passkeys are off %d times, want once:\n%s", n, string(logs.Bytes()))
	}
	if strings.Contains(string(logs.Bytes()), "passkeys need USERSVC_PUBLIC_URL") {
		t.Errorf("a second warning about passkeys:\n%s", string(logs.Bytes()))
	}
}
