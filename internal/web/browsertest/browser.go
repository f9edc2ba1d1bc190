package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// ChromiumPath is where Debian's chromium package puts the browser
// (.ci/run installs it).
const ChromiumPath = "/usr/bin/chromium"

// StepTimeout bounds one step of a page (a navigation, a scan): generous,
// since the service runs under the race detector on a shared machine.
const StepTimeout = 60 * time.Second

// Widths of the screenshots and of the pages the scans look at: a desktop
// window and the narrowest phone the pages are made for.
const (
	DesktopWidth = 1280
	PhoneWidth   = 360
)

// heights go with the widths: the viewport's first screen.
var heights = map[int]int{DesktopWidth: 800, PhoneWidth: 740}

// SkipOrFail skips the test for want of what it needs, except in CI (CI
// set), where what is missing is a failure.
func SkipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why + " (CI is set, so this fails instead of skipping)")
	}
	t.Skip(why)
}

// Browser is one headless Chromium process for a test, with a fresh
// profile, ended when the test ends.
type Browser struct {
	t   testing.TB
	ctx context.Context // the first tab's: it owns the browser
}

// Launch starts Chromium headless with no network beyond what the pages
// ask for (no background requests, updates, sync or QUIC) and a fresh
// user-data directory. Without Chromium the test is skipped (failed in CI).
func Launch(t testing.TB) *Browser {
	t.Helper()
	path := ChromiumPath
	if _, err := os.Stat(path); err != nil {
		p, lerr := exec.LookPath("chromium")
		if lerr != nil {
			SkipOrFail(t, "no chromium at "+ChromiumPath+": skipping the browser test (apt-get install chromium)")
		}
		path = p
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.NoFirstRun, chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"), chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.Flag("lang", "en-US"), chromedp.UserDataDir(t.TempDir()),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(string, ...any) {}))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Do starts the browser, bound to ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: start chromium (%s): %v", path, err)
	}
	return &Browser{t: t, ctx: ctx}
}

// Page is a tab in a browser context of its own: one person's browser,
// with cookies no other Page sees. Its methods fail the test on error.
type Page struct {
	t     testing.TB
	ctx   context.Context
	width int
}

// NewPage opens a tab in a fresh browser context (no cookies), at desktop
// width, closed when the test ends.
func (b *Browser) NewPage(t testing.TB) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // makes the tab, bound to ctx
		t.Fatalf("browsertest: new tab: %v", err)
	}
	p := &Page{t: t, ctx: ctx}
	// Several tabs share one headless window: each behaves as the focused
	// one, so that focus (and :focus-visible) works as for a person.
	p.do("emulate focus", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	}))
	p.SetWidth(DesktopWidth)
	return p
}

// In is the same tab reporting to t (a subtest) instead of the test that
// opened it.
func (p *Page) In(t testing.TB) *Page {
	cp := *p
	cp.t = t
	return &cp
}

// step is a context for one step.
func (p *Page) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.ctx, StepTimeout)
}

// do runs actions that return nothing, failing the test with what on error.
func (p *Page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("browsertest: %s (at %s): %v", what, p.location(), err)
	}
}

// navigate runs actions that cause a page load and returns the loaded
// document's response.
func (p *Page) navigate(what string, actions ...chromedp.Action[chromedp.Void]) *network.Response {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		p.t.Fatalf("browsertest: %s (at %s): %v", what, p.location(), err)
	}
	return resp
}

// location is where the tab is, for messages ("" when it cannot tell).
func (p *Page) location() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// SetWidth lays the page out for a window width px wide (DesktopWidth or
// PhoneWidth; a phone gets a touch screen and the mobile viewport).
func (p *Page) SetWidth(px int) {
	p.t.Helper()
	h, ok := heights[px]
	if !ok {
		h = 800
	}
	var opts []chromedp.EmulateViewportOption
	if px <= PhoneWidth {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	p.do(fmt.Sprintf("viewport %dx%d", px, h), chromedp.EmulateViewport(int64(px), int64(h), opts...))
	p.width = px
}

// Open loads url and returns the HTTP status of the document.
func (p *Page) Open(url string) int {
	p.t.Helper()
	return int(p.navigate("open "+url, chromedp.Navigate(url)).Status)
}

// Reload reloads the document as the browser's reload button does (a
// form's answer would be posted again) and returns its HTTP status.
func (p *Page) Reload() int {
	p.t.Helper()
	return int(p.navigate("reload", chromedp.Reload()).Status)
}

// Location is the address the tab shows.
func (p *Page) Location() string {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		p.t.Fatalf("browsertest: location: %v", err)
	}
	return loc
}

// Fill types values into the form fields named by CSS selector (after
// clearing what they held), as a person would.
func (p *Page) Fill(fields ...string) {
	p.t.Helper()
	if len(fields)%2 != 0 {
		p.t.Fatalf("browsertest: Fill wants selector, value pairs")
	}
	for i := 0; i < len(fields); i += 2 {
		sel, v := chromedp.CSS(fields[i]), fields[i+1]
		p.do("find "+fields[i], chromedp.WaitVisible(sel))
		p.Eval(fmt.Sprintf(`(() => { document.querySelector(%q).value = ''; return ''; })()`, fields[i]))
		p.do("fill "+fields[i], chromedp.SendKeys(sel, v))
	}
}

// Click clicks the element (not a navigation).
func (p *Page) Click(sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// Submit clicks the element (a submit button, a link) and waits for the
// page it leads to, returning its HTTP status.
func (p *Page) Submit(sel string) int {
	p.t.Helper()
	p.do("find "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	return int(p.navigate("submit "+sel, chromedp.Click(chromedp.CSS(sel))).Status)
}

// Keys of the keyboard for Press.
const (
	Tab      = kb.Tab
	Enter    = kb.Enter
	ShiftTab = "shift+tab"
)

// Press sends keys to whatever has the focus, one after the other: Tab,
// ShiftTab, Enter or text to type.
func (p *Page) Press(keys ...string) {
	p.t.Helper()
	for _, k := range keys {
		if k == ShiftTab {
			p.do("press shift+tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
			continue
		}
		p.do(fmt.Sprintf("press %q", k), chromedp.KeyEvent(k))
	}
}

// PressToNavigate presses keys (the last of which submits, Enter on a
// form) and waits for the page they lead to, returning its HTTP status.
func (p *Page) PressToNavigate(keys ...string) int {
	p.t.Helper()
	if len(keys) > 1 {
		p.Press(keys[:len(keys)-1]...)
	}
	last := keys[len(keys)-1]
	return int(p.navigate(fmt.Sprintf("press %q", last), chromedp.KeyEvent(last)).Status)
}

// Focused describes the element that has the focus: its id, else its
// name, else its tag and text.
func (p *Page) Focused() string {
	p.t.Helper()
	return p.Eval(`(() => { const e = document.activeElement; if (!e) return '';
		return e.id ? '#' + e.id : e.name ? '[name=' + e.name + ']' : e.tagName.toLowerCase() + ':' + e.textContent.trim(); })()`)
}

// Text is the visible text of the first element sel matches.
func (p *Page) Text(sel string) string {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("browsertest: text of %s (at %s): %v", sel, p.location(), err)
	}
	return s
}

// Has reports whether sel matches an element now (without waiting).
func (p *Page) Has(sel string) bool {
	p.t.Helper()
	return p.Eval(fmt.Sprintf(`document.querySelector(%q) ? 'yes' : ''`, sel)) == "yes"
}

// Count is how many elements sel matches now.
func (p *Page) Count(sel string) int {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		p.t.Fatalf("browsertest: count %s: %v", sel, err)
	}
	return n
}

// Eval runs script in the page (awaiting the promise it may return) and
// returns its string result.
func (p *Page) Eval(script string) string {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("browsertest: script %.80q (at %s): %v", script, p.location(), err)
	}
	return v
}

// Body is the document's text, for messages.
func (p *Page) Body() string {
	p.t.Helper()
	return strings.TrimSpace(p.Eval(`document.body ? document.body.innerText : ''`))
}

// MaxShotHeight caps a screenshot's height: a page taller than this (the
// API docs) is cut, which keeps the capture quick.
const MaxShotHeight = 3000

// Screenshot is a PNG of the page laid out px wide, its whole height up to
// MaxShotHeight (the tab keeps that width afterwards).
func (p *Page) Screenshot(px int) []byte {
	p.t.Helper()
	if p.width != px {
		p.SetWidth(px)
	}
	ctx, cancel := p.step()
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.Action[[]byte](func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		m, err := cdp.Call(ctx, tg, page.GetLayoutMetrics, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		h := float64(heights[px])
		if m.CSSContentSize != nil {
			h = max(h, min(m.CSSContentSize.Height, MaxShotHeight))
		}
		r, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng, CaptureBeyondViewport: ptr(true), FromSurface: ptr(true),
			Clip: &page.Viewport{Width: float64(px), Height: h, Scale: 1},
		})
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	}))
	if err != nil {
		p.t.Fatalf("browsertest: screenshot at %d px (at %s): %v", px, p.location(), err)
	}
	return shot
}

func ptr[T any](v T) *T { return &v }

// Context is the tab's context, for chromedp actions the helpers lack.
func (p *Page) Context() context.Context { return p.ctx }
