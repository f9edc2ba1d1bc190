package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// formContentType is the body type "Try it out" sends to /token.
const formContentType = "application/x-www-form-urlencoded"

// TestDocsPageLogsInAndGetsTokens drives the docs page in headless
// Chromium as a person would: the Authorize button logs in through the
// OAuth2 password flow of the document (so "Try it out" on a protected
// operation answers 200), and "Try it out" on /token gets tokens with
// each grant, Swagger UI's form sending the other grant's fields too.
func TestDocsPageLogsInAndGetsTokens(t *testing.T) {
	browser := chromium(t)
	srv := start(t)
	api := srv.base + "/api/v1"
	signUp(t, api, "swagger")

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Headless,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("open the docs page", chromedp.Navigate(srv.base+"/docs/"),
		chromedp.WaitVisible(chromedp.CSS(`button.authorize`)))

	// Authorize: the password flow's form in the modal.
	run("log in through Authorize",
		chromedp.Click(chromedp.CSS(`button.btn.authorize`)),
		chromedp.WaitVisible(chromedp.CSS(`#oauth_username`)),
		chromedp.SendKeys(chromedp.CSS(`#oauth_username`), "swagger"),
		chromedp.SendKeys(chromedp.CSS(`#oauth_password`), loadPassword))
	eval(ctx, t, `(() => {
		const form = document.querySelector('#oauth_username').closest('.auth-container');
		form.querySelector('button.authorize').click();
		return '';
	})()`)
	authorized, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => {
		const a = window.ui.authSelectors.authorized().toJS();
		return a.oauth2Password && a.oauth2Password.token && a.oauth2Password.token.access_token ? JSON.stringify(a) : false;
	})()`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		errs := eval(ctx, t, `Array.from(document.querySelectorAll('.modal-ux .errors, .modal-ux .error')).map(e => e.textContent).join('; ')`)
		t.Fatalf("Authorize gave no token (%v); the modal says %q", err, errs)
	}
	if !strings.Contains(authorized, "refresh_token") {
		t.Errorf("Swagger UI's authorization %s: want the tokens of the password flow", authorized)
	}
	eval(ctx, t, `(() => { document.querySelector('.modal-ux .close-modal').click(); return ''; })()`)

	// Try it out on a protected operation sends the token.
	status := tryItOut(ctx, t, "Users", "readMe", nil)
	if status != "200" {
		t.Errorf("Try it out on GET /users/me after Authorize: %s, want 200", status)
	}

	// Try it out on /token, with the form, for each grant. Swagger UI fills
	// every field with a sample value: client_secret's would fail client
	// authentication, so it is emptied (an empty field counts as absent).
	body := tryItOutBody(ctx, t, "password", map[string]string{"grant_type": "password", "username": "swagger", "password": loadPassword, "client_secret": ""})
	var pair struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal([]byte(body), &pair); err != nil || pair.RefreshToken == "" {
		t.Fatalf("Try it out on /token, password grant: %s (%v), want tokens", body, err)
	}
	// The password grant's fields keep what they hold: a refresh grant
	// ignores them.
	body = tryItOutBody(ctx, t, "refresh", map[string]string{"grant_type": "refresh_token", "refresh_token": pair.RefreshToken, "client_secret": ""})
	var next struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &next); err != nil || next.AccessToken == "" || next.AccessToken == pair.AccessToken {
		t.Errorf("Try it out on /token, refresh grant: %s (%v), want a new access token", body, err)
	}
}

// opblock is the CSS selector of an operation of the docs page.
func opblock(tag, id string) string { return fmt.Sprintf("#operations-%s-%s", tag, id) }

// tryItOut expands the operation, presses Try it out (when fill is not
// nil, fills the form fields), Execute, and returns the answer's status.
func tryItOut(ctx context.Context, t *testing.T, tag, id string, fill map[string]string) string {
	t.Helper()
	sel := opblock(tag, id)
	// React may replace the operation's nodes at each step: look them up
	// afresh every time.
	js := fmt.Sprintf(`(async () => {
		const sleep = ms => new Promise(r => setTimeout(r, ms));
		const q = s => document.querySelector(%q + ' ' + s);
		const waitFor = async s => { for (let i = 0; i < 50 && !q(s); i++) await sleep(100); return q(s); };
		if (!q('.try-out__btn')) q('.opblock-summary-control').click();
		const tryBtn = await waitFor('.try-out__btn');
		if (!tryBtn) return 'no Try it out button';
		if (!tryBtn.classList.contains('cancel')) tryBtn.click();
		if (!await waitFor('.execute')) return 'NO EXECUTE: ' + document.querySelector(%q).outerHTML.slice(0, 2000);
		return '';
	})()`, sel, sel)
	if got := eval(ctx, t, js); got != "" {
		t.Fatalf("open %s: %s", sel, got)
	}
	if fill != nil {
		values, _ := json.Marshal(fill)
		// React keeps its own copy of a field's value: set it through the
		// element's native setter and tell React with an event.
		js := fmt.Sprintf(`(async () => {
			const sleep = ms => new Promise(r => setTimeout(r, ms));
			const q = s => document.querySelector(%q + ' ' + s);
			const set = (el, v) => {
				const proto = el.tagName === 'SELECT' ? HTMLSelectElement.prototype :
					el.tagName === 'TEXTAREA' ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
				Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, v);
				el.dispatchEvent(new Event(el.tagName === 'SELECT' ? 'change' : 'input', {bubbles: true}));
			};
			const ct = q('.opblock-section-request-body select');
			if (ct && ct.value !== %q) { set(ct, %q); await sleep(300); }
			const missing = [];
			for (const [name, v] of Object.entries(%s)) {
				const el = q('tr[data-property-name="' + name + '"] input[type=text], tr[data-property-name="' + name + '"] input[type=password]') ||
					q('tr[data-property-name="' + name + '"] select');
				if (!el) { missing.push(name); continue; }
				set(el, v);
			}
			await sleep(1000); // Swagger UI's inputs are debounced
			return missing.length ? missing.join(',') + ': ' + q('.opblock-section-request-body').outerHTML.slice(0, 3000) : '';
		})()`, sel, formContentType, formContentType, values)
		if missing := eval(ctx, t, js); missing != "" {
			t.Fatalf("%s: no form fields %s", sel, missing)
		}
	}
	// Clear an earlier answer (Swagger UI's own button: React owns the
	// nodes), then Execute.
	eval(ctx, t, fmt.Sprintf(`(async () => {
		const sleep = ms => new Promise(r => setTimeout(r, ms));
		const q = s => document.querySelector(%q + ' ' + s);
		if (q('.btn-clear')) { q('.btn-clear').click(); for (let i = 0; i < 50 && q('.live-responses-table'); i++) await sleep(100); }
		q('.execute').click();
		return '';
	})()`, sel))
	status, err := chromedp.Run(ctx, chromedp.Poll[string](fmt.Sprintf(`(() => { const s = document.querySelector('%s .live-responses-table tr.response .response-col_status');
		return s ? s.textContent.trim() : false; })()`, sel), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("execute %s: %v; the operation shows %q", sel, err,
			eval(ctx, t, fmt.Sprintf(`(document.querySelector('%s .opblock-body') || {}).innerText || ''`, sel)))
	}
	return status
}

// tryItOutBody is tryItOut on /token with the form content type, and
// returns the answer's body after checking it is 200.
func tryItOutBody(ctx context.Context, t *testing.T, grant string, fill map[string]string) string {
	t.Helper()
	sel := opblock("Authentication", "login")
	status := tryItOut(ctx, t, "Authentication", "login", fill)
	body := eval(ctx, t, fmt.Sprintf(
		`document.querySelector('%s .live-responses-table .response-col_description pre').textContent`, sel))
	if status != "200" {
		curl := eval(ctx, t, fmt.Sprintf(`(document.querySelector('%s .curl-command') || {}).textContent || ''`, sel))
		t.Fatalf("Try it out on /token, %s grant: %s %s, want 200 (sent: %s)", grant, status, body, curl)
	}
	return body
}

// eval runs the script in the page, awaiting the promise it may return,
// and returns its string result.
func eval(ctx context.Context, t *testing.T, script string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("script %.80q: %v", script, err)
	}
	return v
}
