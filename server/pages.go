package server

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar/config"
)

//go:embed templates/*.html
var pageFS embed.FS

//go:embed static
var staticFS embed.FS

// Pages renders the server-rendered pages: templates/layout.html wraps each
// templates/NAME.html, which defines "title" and "content". All are parsed
// by LoadPages at start-up, so a missing or broken view fails there.
type Pages struct {
	cfg   *config.Config
	pages map[string]*template.Template
}

// PageData is what every page gets: the company's branding and the page's
// own data.
type PageData struct {
	Company any
	Dev     bool
	Data    any
}

// LoadPages parses every page template.
func LoadPages(cfg *config.Config) (*Pages, error) {
	funcs := template.FuncMap{
		"lower": strings.ToLower,
		"eq2":   func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) },
	}
	layout, err := fs.ReadFile(pageFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("server: page layout: %w", err)
	}
	p := &Pages{cfg: cfg, pages: map[string]*template.Template{}}
	entries, _ := fs.ReadDir(pageFS, "templates")
	for _, e := range entries {
		name, _ := strings.CutSuffix(e.Name(), ".html")
		if name == "layout" {
			continue
		}
		body, _ := fs.ReadFile(pageFS, "templates/"+e.Name())
		t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
		if err == nil {
			_, err = t.New(name).Parse(string(body))
		}
		if err != nil {
			return nil, fmt.Errorf("server: page %s: %w", e.Name(), err)
		}
		p.pages[name] = t
	}
	return p, nil
}

// Render writes page name with data and status.
func (p *Pages) Render(c *gin.Context, status int, name string, data any) {
	t, ok := p.pages[name]
	if !ok {
		panic("server: no page " + name) // caught by recover; LoadPages tests catch it first
	}
	var buf bytes.Buffer
	err := t.ExecuteTemplate(&buf, "layout", PageData{Company: p.cfg.Company, Dev: p.cfg.Dev(), Data: data})
	if err != nil {
		panic(fmt.Sprintf("server: render %s: %v", name, err))
	}
	c.Header("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// Has reports whether a page exists, for start-up checks and tests.
func (p *Pages) Has(name string) bool { _, ok := p.pages[name]; return ok }

// staticHandler serves the embedded assets under /static/.
func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	return http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
}

// assetRoutes serves the embedded static files and the theme built from
// the company's colours in config.
func (s *Server) assetRoutes() {
	s.engine.GET("/static/*path", gin.WrapH(staticHandler()))
	css := fmt.Sprintf(":root{--primary:%s;--accent:%s}\n", cssColor(s.Config.Company.PrimaryColor), cssColor(s.Config.Company.AccentColor))
	icon := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path fill="%s" d="M16 2 4 7v8c0 7.5 5.1 13.4 12 15 6.9-1.6 12-7.5 12-15V7z"/><path fill="#fff" d="m14 21-5-5 2-2 3 3 7-7 2 2z"/></svg>`,
		cssColor(s.Config.Company.PrimaryColor))
	s.engine.GET("/favicon.ico", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=86400")
		c.Data(http.StatusOK, "image/svg+xml", []byte(icon))
	})
	s.engine.GET("/theme.css", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.Data(http.StatusOK, "text/css; charset=utf-8", []byte(css))
	})
}

// cssColor passes a #rgb or #rrggbb colour and replaces anything else, so
// config cannot inject CSS.
func cssColor(v string) string {
	ok := (len(v) == 4 || len(v) == 7) && v[0] == '#'
	for _, r := range v[1:] {
		ok = ok && strings.ContainsRune("0123456789abcdefABCDEF", r)
	}
	if !ok {
		return "#1f4e79"
	}
	return v
}
