package browsertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/web/browsertest"
)

// MinTarget is WCAG 2.5.8's minimum target size, in CSS px: a control
// smaller than this passes only with a 24 px square around its centre
// clear of every other control (the spacing exception), or when it is a
// link inside a sentence.
const MinTarget = 24

// MaxFieldWidth is the widest a text field, a list or a text area may be
// laid out (32rem, the width of the account pages' column): a password box
// as wide as a desktop console reads as a text area.
const MaxFieldWidth = 512

// layoutScript finds, in the page as laid out now, what a person would
// notice and axe-core does not check: a heading level skipped or shown
// larger than the level above it, a control smaller than MinTarget
// without the room around it, a box that scrolls sideways without the
// keyboard being able to reach it or a name for it, two buttons touching,
// anything reaching past the window's right edge or text overflowing its
// box (outside the tables' scrolling boxes), two buttons of one name that
// do different things (the sessions' list's included), a focused control
// without a focus indicator, out of sight or covered (WCAG 2.4.7,
// 2.4.11), the menu listing an account link after the console's, and
// (argument true, at desktop width) a field wider than MaxFieldWidth. It
// returns the problems as a JSON list of sentences.
const layoutScript = `((desktop, min, maxField) => {
	const out = [], say = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' "' + (e.textContent || e.value || e.name || '').replace(/\s+/g, ' ').trim().slice(0, 40) + '"';
	const visible = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
	let prev = 0; const least = {}, most = {};
	for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
		const l = +h.tagName[1], px = parseFloat(getComputedStyle(h).fontSize);
		if (l > prev + 1) out.push('heading ' + say(h) + ' comes after h' + prev);
		prev = l; least[l] = Math.min(least[l] ?? px, px); most[l] = Math.max(most[l] ?? 0, px);
	}
	for (let l = 2; l <= 6; l++) for (let k = 1; k < l; k++) if (most[l] >= least[k]) out.push('h' + l + ' is shown at ' + most[l] + ' px, as large as h' + k + ' (' + least[k] + ' px)');
	const targets = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, [tabindex="0"]')].filter(visible);
	const boxes = targets.map(e => e.getBoundingClientRect());
	targets.forEach((e, i) => {
		const r = boxes[i];
		if (r.width >= min && r.height >= min) return;
		const p = e.closest('p');
		if (e.tagName === 'A' && p && [...p.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim())) return; // in a sentence
		const cx = r.left + r.width / 2, cy = r.top + r.height / 2, h = min / 2;
		const crowded = boxes.some((o, j) => j !== i && !targets[j].contains(e) && !e.contains(targets[j]) &&
			o.left < cx + h && o.right > cx - h && o.top < cy + h && o.bottom > cy - h);
		if (crowded) out.push('target ' + say(e) + ' is ' + Math.round(r.width) + 'x' + Math.round(r.height) + ' px with another control within ' + h + ' px of its centre');
	});
	const buttons = targets.filter(e => e.matches('button, a.button'));
	buttons.forEach((a, i) => buttons.slice(i + 1).forEach(b => {
		const r = a.getBoundingClientRect(), o = b.getBoundingClientRect();
		if (r.left <= o.right && r.right >= o.left && r.top <= o.bottom && r.bottom >= o.top) out.push('the buttons ' + say(a) + ' and ' + say(b) + ' touch');
	}));
	const named = {};
	for (const b of document.querySelectorAll('main button')) {
		const name = (b.getAttribute('aria-label') || b.textContent).replace(/\s+/g, ' ').trim(), action = b.form ? b.form.action : '';
		if (named[name] !== undefined && named[name] !== action) out.push('two buttons called "' + name + '" do different things');
		named[name] = action;
	}
	for (const e of document.querySelectorAll('main *')) {
		const s = getComputedStyle(e);
		if (e.scrollWidth > e.clientWidth + 1 && (s.overflowX === 'auto' || s.overflowX === 'scroll')) {
			if (e.tabIndex < 0 || !(e.getAttribute('aria-label') || e.getAttribute('aria-labelledby'))) out.push('the box ' + say(e) + ' scrolls sideways but cannot be reached by keyboard or has no name');
		}
	}
	const page = document.documentElement.clientWidth;
	for (const e of document.querySelectorAll('body *')) {
		if (!visible(e) || e.closest('.skip') || e.closest('.scroll')) continue;
		const r = e.getBoundingClientRect();
		if (r.right > page + 1) { out.push(say(e) + ' sticks out past the window, to ' + Math.round(r.right) + ' of ' + page + ' px'); break; }
		if (e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible') { out.push('the text of ' + say(e) + ' sticks out of its box'); break; }
	}
	const links = [...document.querySelectorAll('.top nav a')].map(a => a.getAttribute('href'));
	const firstAdmin = links.findIndex(h => h.startsWith('/admin'));
	if (firstAdmin >= 0 && links.slice(firstAdmin).some(h => h.startsWith('/account'))) out.push('the menu lists account links after console links: ' + links.join(' '));
	for (const e of targets) {
		e.focus({focusVisible: true});
		if (document.activeElement !== e) continue;
		const s = getComputedStyle(e), r = e.getBoundingClientRect();
		if ((s.outlineStyle === 'none' || parseFloat(s.outlineWidth) < 2) && s.boxShadow === 'none') out.push('the focused ' + say(e) + ' shows no focus indicator');
		if (r.bottom <= 0 || r.top >= innerHeight || r.right <= 0 || r.left >= innerWidth) out.push('the focused ' + say(e) + ' is out of sight');
		const hit = document.elementFromPoint(Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1), Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1));
		if (hit && !e.contains(hit) && !hit.contains(e) && !(e.labels && [...e.labels].some(l => l.contains(hit)))) out.push('the focused ' + say(e) + ' is covered by ' + say(hit));
		e.blur();
	}
	scrollTo(0, 0);
	if (desktop) for (const e of document.querySelectorAll('input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, textarea')) {
		if (visible(e) && e.getBoundingClientRect().width > maxField) out.push('the field ' + say(e) + ' is ' + Math.round(e.getBoundingClientRect().width) + ' px wide');
	}
	return JSON.stringify(out);
})`

// layoutProblems are the problems layoutScript finds in the page open in
// p.
func layoutProblems(t *testing.T, p *browsertest.Page, desktop bool) []string {
	t.Helper()
	var problems []string
	if err := json.Unmarshal([]byte(p.Eval(fmt.Sprintf("%s(%t, %d, %d)", layoutScript, desktop, MinTarget, MaxFieldWidth))), &problems); err != nil {
		t.Fatalf("the layout check's answer: %v", err)
	}
	return problems
}

// checkLayout fails the test with each problem layoutScript finds in the
// page open in p (name says which page).
func checkLayout(t *testing.T, p *browsertest.Page, name string, desktop bool) {
	t.Helper()
	for _, s := range layoutProblems(t, p, desktop) {
		t.Errorf("%s (%s): %s", name, map[bool]string{true: "desktop", false: "phone"}[desktop], s)
	}
}

// An account whose details are as long as the service allows or people's
// get: the address 254 characters at most, the username 32.
const (
	longEmail    = "ada.lovelace.analytical-engine.notes-on-the-bernoulli-numbers@department-of-computing-history.university-of-somewhere.example.org"
	longUsername = "augusta_ada_king_countess_lovela"
	longName     = "Augusta Ada King, Countess of Lovelace (née Byron), Baroness Wentworth-Milbanke-Noel of Kirkby Mallory"
	// longAgent is a browser's User-Agent as long-winded ones send it, and
	// longAddress an IPv6 address written out in full.
	longAgent   = "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S928B/DS Build/UP1A.231005.007) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36"
	longAddress = "2001:0db8:85a3:0000:0000:8a2e:0370:7334"
)

// manySessions opens n sessions of login from longAgent at longAddress.
func manySessions(t *testing.T, site *browsertest.Site, login string, n int) {
	t.Helper()
	ctx := user.WithClient(t.Context(), user.Client{UserAgent: longAgent, IP: longAddress})
	for range n {
		if _, err := site.App.Service().Login(ctx, login, password, ""); err != nil {
			t.Fatalf("login as %s: %v", login, err)
		}
	}
}

// TestLayoutCheckFindsWhatItMust runs the layout check on a page made to
// break each of its rules, so that a check of TestEveryPage that finds
// nothing is known to look.
func TestLayoutCheckFindsWhatItMust(t *testing.T) {
	browser := browsertest.Launch(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><meta name="viewport" content="width=device-width"><title>t</title>
			<style>body{margin:0} :focus{outline:none} .bad h3{font-size:2rem} .bad .tiny{font-size:10px;line-height:1}
			.bad .big{width:1400px} .bad .banner{position:fixed;top:0;left:0;width:100%;height:60px;background:#fff} .scroll{overflow-x:auto} .scroll div{width:2000px}</style>
			<header class="top"><nav><a href="/admin/users">Users</a> <a href="/account/mfa">App</a></nav></header>
			<main class="bad"><h1>T</h1><h3>Skipped</h3>
			<p><a class="tiny" href="/a">a</a><a class="tiny" href="/b">b</a></p>
			<button>One</button><button>Two</button><form action="/x"><button>Rename</button></form><form action="/y"><button>Rename</button></form>
			<div class="scroll"><div>wide</div></div><input class="big" aria-label="x"><div class="banner"></div></main></html>`)
	}))
	t.Cleanup(srv.Close)
	page := browser.NewPage(t)
	page.Open(srv.URL)
	got := strings.Join(layoutProblems(t, page, true), "\n")
	for _, want := range []string{"comes after h1", "as large as h", "another control within", "touch", "scrolls sideways but",
		"sticks out", "no focus indicator", "is covered by", "account links after console links", "px wide", "do different things"} {
		if !strings.Contains(got, want) {
			t.Errorf("the check missed %q; it found:\n%s", want, got)
		}
	}
}

// Passkeys' names near the 64 characters the service allows: in words,
// and in one word that nothing breaks.
const (
	longPasskeyName = "Ada's Pixel 8 Pro, work profile, the one in the blue case"
	oneWordKeyName  = "YubiKey_5C_NFC_serial_19283746_backup_kept_in_the_office_drawer"
)

// addPasskeys adds two passkeys with long names from the passkeys page
// open in p, each from a virtual authenticator of its own (the DevTools
// WebAuthn domain; one authenticator may hold one passkey of an account):
// p lands on the list.
func addPasskeys(t *testing.T, p *browsertest.Page, _ *browsertest.Site) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.Context(), browsertest.StepTimeout)
	defer cancel()
	for i, name := range []string{longPasskeyName, oneWordKeyName} {
		var id webauthn.AuthenticatorID
		err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
				return err
			}
			r, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
				Options: &webauthn.VirtualAuthenticatorOptions{
					Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
					HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
				},
			})
			if err == nil {
				id = r.AuthenticatorID
			}
			return err
		}))
		if err != nil {
			t.Fatalf("virtual authenticator: %v", err)
		}
		p.Fill("#passkey-name", name, "#passkey-password", password)
		p.Click(`[data-passkey="add"] [data-passkey-start]`)
		err = chromedp.Do(ctx, chromedp.WaitReady(fmt.Sprintf(`ul.passkeys > li:nth-child(%d)`, i+1)),
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: id})
				return err
			}))
		if err != nil {
			t.Fatalf("adding the passkey %q: %v (at %s)", name, err, p.Location())
		}
	}
}

// wrongPasswordOnRemove submits a wrong password on the second passkey's
// Remove form of the passkeys page open in p, after adding two passkeys
// when the list has fewer (this state run alone).
func wrongPasswordOnRemove(t *testing.T, p *browsertest.Page, site *browsertest.Site) {
	t.Helper()
	if !p.Has("ul.passkeys > li:nth-child(2)") {
		addPasskeys(t, p, site)
	}
	const second = "ul.passkeys > li:nth-child(2) form[action$='/remove'] "
	p.Fill(second+"input[name=current_password]", "not the password")
	if status := p.Submit(second + "button[type=submit]"); status != http.StatusUnauthorized {
		t.Fatalf("a wrong password on the Remove form: %d, want %d", status, http.StatusUnauthorized)
	}
}
