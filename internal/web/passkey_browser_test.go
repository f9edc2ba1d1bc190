package web_test

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// TestPasskeyInTheBrowser is issue 22's proof: in headless Chromium with
// a virtual authenticator (the DevTools WebAuthn domain: CTAP2, internal,
// resident keys, user verification) a signed-in user adds a passkey on
// /account/passkeys, signs out, and signs in with it without a password;
// then signs in with the password, and the passkey is the second factor.
// The site is http://localhost (a secure context, and the relying party
// id). Without Chromium it skips, except in CI, where it fails.
func TestPasskeyInTheBrowser(t *testing.T) {
	pb := newPasskeyBrowser(t)
	srv, base := pb.srv, pb.base
	if _, err := srv.App.Service().Register(context.Background(), user.Registration{
		Email: "ada@example.com", Username: "ada", Password: password,
	}); err != nil {
		t.Fatal(err)
	}
	step, text, wait, waitPath := pb.step, pb.text, pb.wait, pb.waitPath

	step("open the sign-in page", chromedp.Navigate(base+"/sign-in"))
	pb.addAuthenticator(true)
	step("sign in with the password",
		chromedp.WaitVisible(chromedp.CSS("#f-login")),
		chromedp.SendKeys(chromedp.CSS("#f-login"), "ada"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/sign-in"] button[type=submit]`)))
	waitPath("/account")

	step("open the passkeys page", chromedp.Navigate(base+"/account/passkeys"))
	step("add a passkey",
		chromedp.WaitVisible(chromedp.CSS(`[data-passkey="add"] [data-passkey-start]`)),
		chromedp.SendKeys(chromedp.CSS("#passkey-name"), "Virtual key"),
		chromedp.Click(chromedp.CSS(`[data-passkey="add"] [data-passkey-start]`)))
	wait("wait for the list", `location.search.includes("passkey_added") && document.querySelector(".passkey-name") !== null`)
	if got := text(".passkey-name"); got != "Virtual key" {
		t.Fatalf("the passkeys page lists %q, want Virtual key", got)
	}

	step("sign out", chromedp.Click(chromedp.CSS(`form[action="/sign-out"] button`)))
	waitPath("/sign-in")
	step("sign in with the passkey",
		chromedp.WaitVisible(chromedp.CSS(`[data-passkey="sign-in"] [data-passkey-start]`)),
		chromedp.Click(chromedp.CSS(`[data-passkey="sign-in"] [data-passkey-start]`)))
	waitPath("/account")
	if got := text("main h1"); got == "" {
		t.Errorf("the account page after the passkey sign-in has no heading")
	}

	// The passkey is now ada's second factor too: a password sign-in asks
	// for it, and the passkey button of the second step finishes it.
	step("sign out again", chromedp.Click(chromedp.CSS(`form[action="/sign-out"] button`)))
	waitPath("/sign-in")
	step("sign in with the password, as a first factor",
		chromedp.WaitVisible(chromedp.CSS("#f-login")),
		chromedp.SendKeys(chromedp.CSS("#f-login"), "ada"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/sign-in"] button[type=submit]`)))
	step("prove it with the passkey",
		chromedp.WaitVisible(chromedp.CSS(`[data-passkey="second-factor"] [data-passkey-start]`)),
		chromedp.Click(chromedp.CSS(`[data-passkey="second-factor"] [data-passkey-start]`)))
	waitPath("/account")

	// The service saw a passkey sign-in of ada, not a password one, then
	// a password sign-in proved by the passkey.
	events, err := srv.Stores.Audit.Events(context.Background(), user.AuditFilter{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	passwordless, second := false, false
	for _, e := range events {
		if e.Kind != user.AuditLoginSucceeded {
			continue
		}
		amr := strings.Fields(e.Detail["amr"])
		passwordless = passwordless || e.Detail["method"] == "passkey"
		second = second || slices.Contains(amr, "pwd") && slices.Contains(amr, "mfa") &&
			(slices.Contains(amr, "hwk") || slices.Contains(amr, "swk"))
	}
	if !passwordless {
		t.Errorf("no login.succeeded with method passkey among %d audit events", len(events))
	}
	if !second {
		t.Errorf("no login.succeeded with amr pwd, hwk (or swk) and mfa among %d audit events", len(events))
	}
}

// passkeyBrowser is headless Chromium on a service at http://localhost
// (a secure context, and the relying party id).
type passkeyBrowser struct {
	t    *testing.T
	srv  *apptest.Server
	base string
	ctx  context.Context
}

// newPasskeyBrowser starts the service and Chromium, both ended with the
// test. Without Chromium it skips, except in CI, where it fails.
func newPasskeyBrowser(t *testing.T) passkeyBrowser {
	t.Helper()
	chromium, err := exec.LookPath("/usr/bin/chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no chromium at /usr/bin/chromium (CI is set, so this fails instead of skipping)")
		}
		t.Skip("no chromium at /usr/bin/chromium: skipping the browser test (apt-get install chromium)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	base := "http://localhost:" + port
	srv := apptest.New(t, apptest.SQLite, apptest.Env("USERSVC_PUBLIC_URL", base))
	hs := httptest.NewUnstartedServer(srv.Handler)
	_ = hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.NoFirstRun, chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithErrorf(func(string, ...any) {}))
	t.Cleanup(cancelTab)
	ctx, cancel := context.WithTimeout(tab, 3*time.Minute)
	t.Cleanup(cancel)
	return passkeyBrowser{t: t, srv: srv, base: base, ctx: ctx}
}

// step runs actions, failing the test with what and where it was.
func (pb passkeyBrowser) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	pb.t.Helper()
	if err := chromedp.Do(pb.ctx, actions...); err != nil {
		loc, _ := chromedp.Run(pb.ctx, chromedp.Location())
		pb.t.Fatalf("%s (at %s): %v", what, loc, err)
	}
}

// text is the trimmed text of the element sel.
func (pb passkeyBrowser) text(sel string) string {
	pb.t.Helper()
	s, err := chromedp.Run(pb.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		pb.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// wait polls pred in the page; a navigation under way destroys the
// page's context mid-poll, and the poll starts again in the new one.
func (pb passkeyBrowser) wait(what, pred string) {
	pb.t.Helper()
	var err error
	for range 20 {
		if err = chromedp.Do(pb.ctx, chromedp.Poll[chromedp.Void](pred)); err == nil || pb.ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		loc, _ := chromedp.Run(pb.ctx, chromedp.Location())
		pb.t.Fatalf("%s (at %s): %v", what, loc, err)
	}
}

// waitPath waits for the page at path to have loaded.
func (pb passkeyBrowser) waitPath(path string) {
	pb.t.Helper()
	pb.wait("wait for "+path, `location.pathname === "`+path+`" && document.readyState === "complete"`)
}

// addAuthenticator gives the browser a virtual passkey authenticator (the
// DevTools WebAuthn domain: CTAP2, internal, resident keys, user
// verification) that verifies its user when verified says so.
func (pb passkeyBrowser) addAuthenticator(verified bool) {
	pb.t.Helper()
	pb.step("add a virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: verified, AutomaticPresenceSimulation: true,
			},
		})
		return err
	}))
}

// A passkey ceremony that fails shows the pages' own words, where a user
// and a screen reader find them, and leaves the keyboard on the button:
// the authenticator refusing (here it has no passkey for the site), never
// the browser's developer text ("The operation either timed out or was
// not allowed. See: https://www.w3.org/..."); and a page whose session
// ended meanwhile leads to the sign-in, never a JSON parser's complaint
// about the sign-in page ("Unexpected token '<'...").
func TestPasskeyFailuresInTheBrowser(t *testing.T) {
	pb := newPasskeyBrowser(t)
	u, err := pb.srv.App.Service().Register(context.Background(), user.Registration{
		Email: "ada@example.com", Username: "ada", Password: password,
	})
	if err != nil {
		t.Fatal(err)
	}
	pb.step("open the sign-in page", chromedp.Navigate(pb.base+"/sign-in"))
	pb.addAuthenticator(true)
	pb.step("sign in with a passkey the authenticator does not hold",
		chromedp.WaitVisible(chromedp.CSS(`[data-passkey="sign-in"] [data-passkey-start]`)),
		chromedp.Focus(chromedp.CSS(`[data-passkey="sign-in"] [data-passkey-start]`)),
		chromedp.KeyEvent("\r"))
	pb.wait("wait for the error", `!document.querySelector('[data-passkey="sign-in"] [data-passkey-error]').hidden`)
	if got, want := pb.text(`[data-passkey="sign-in"] [data-passkey-error]`), "The passkey was not used: it was cancelled, timed out or not found. Try again."; got != want {
		t.Errorf("the error shown: %q, want %q", got, want)
	}
	focused, err := chromedp.Run(pb.ctx, chromedp.Evaluate[bool](`document.activeElement === document.querySelector('[data-passkey="sign-in"] [data-passkey-start]')`))
	if err != nil || !focused {
		t.Errorf("after the error the keyboard focus is not on the passkey button")
	}

	pb.step("sign in with the password",
		chromedp.SendKeys(chromedp.CSS("#f-login"), "ada"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/sign-in"] button[type=submit]`)))
	pb.waitPath("/account")
	pb.step("open the passkeys page", chromedp.Navigate(pb.base+"/account/passkeys"))
	pb.step("wait for the button", chromedp.WaitVisible(chromedp.CSS(`[data-passkey="add"] [data-passkey-start]`)))
	if err := pb.srv.App.Service().LogoutAll(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	pb.step("add a passkey after the session ended", chromedp.Click(chromedp.CSS(`[data-passkey="add"] [data-passkey-start]`)))
	pb.waitPath("/sign-in")
	back, err := chromedp.Run(pb.ctx, chromedp.Evaluate[string](`new URLSearchParams(location.search).get("return_to") || ""`))
	if err != nil || back != "/account/passkeys" {
		t.Errorf("the sign-in leads back to %q (%v), want /account/passkeys", back, err)
	}
}
