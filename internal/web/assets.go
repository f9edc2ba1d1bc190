package web

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"text/template"
	"time"
)

// stylesheetPath is where the one stylesheet is served.
const stylesheetPath = "/assets/app.css"

//go:embed assets/app.css
var stylesheetSource string

// stylesheet is app.css with the accent colour in, and its version.
type stylesheet struct {
	body []byte
	etag string // a quoted hash of body
	hash string
	href string // stylesheetPath?v=hash: a new version is a new URL
}

// newStylesheet renders app.css with accent (#rrggbb, checked by config).
func newStylesheet(accent string) (stylesheet, error) {
	if accent == "" {
		accent = "#1d4ed8"
	}
	t, err := template.New("app.css").Delims("[[", "]]").Parse(stylesheetSource)
	if err != nil {
		return stylesheet{}, fmt.Errorf("web: app.css: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, struct{ Accent string }{accent}); err != nil {
		return stylesheet{}, fmt.Errorf("web: app.css: %w", err)
	}
	sum := sha256.Sum256(b.Bytes())
	h := hex.EncodeToString(sum[:8])
	return stylesheet{body: b.Bytes(), etag: `"` + h + `"`, hash: h, href: stylesheetPath + "?v=" + h}, nil
}

// stylesheet serves app.css: for a year when asked by its versioned URL,
// revalidated by its ETag otherwise (If-None-Match answers 304).
func (p *Pages) stylesheet(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("ETag", p.css.etag)
	if r.URL.Query().Get("v") == p.css.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "app.css", time.Time{}, bytes.NewReader(p.css.body))
}
