package server

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/locale"
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
	pages map[locale.Lang]map[string]*template.Template
}

// staffPages are the pages for staff, always in English and without the
// language picker; every other page is the requester's, in their language.
var staffPages = map[string]bool{"console": true, "mailbox": true, "mailbox_mail": true, "sso_error": true}

// PageData is what every page gets: the company's branding and its own
// wording in the page's language, the language and its picker, and the
// page's own data.
type PageData struct {
	Company any
	Texts   config.CompanyTexts
	Dev     bool
	Lang    locale.Lang
	Langs   []langLink // the picker; none on staff pages
	Data    any
}

// LoadPages parses every page template, once per language: the requester
// pages say everything through message ids ({{t "form.title"}}), bound
// to the language they were parsed for.
func LoadPages(cfg *config.Config) (*Pages, error) {
	layout, err := fs.ReadFile(pageFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("server: page layout: %w", err)
	}
	p := &Pages{cfg: cfg, pages: map[locale.Lang]map[string]*template.Template{}}
	entries, _ := fs.ReadDir(pageFS, "templates")
	for _, l := range locale.Langs {
		p.pages[l] = map[string]*template.Template{}
		for _, e := range entries {
			name, _ := strings.CutSuffix(e.Name(), ".html")
			if name == "layout" {
				continue
			}
			body, _ := fs.ReadFile(pageFS, "templates/"+e.Name())
			t, err := template.New("layout").Funcs(pageFuncs(l)).Parse(string(layout))
			if err == nil {
				_, err = t.New(name).Parse(string(body))
			}
			if err != nil {
				return nil, fmt.Errorf("server: page %s: %w", e.Name(), err)
			}
			p.pages[l][name] = t
		}
	}
	return p, nil
}

// pageFuncs are the template functions of pages in language l. t is
// message id in l, filled with args (escaped; a template.HTML arg, such as
// a <time> element, is kept); an unknown id fails the page, so a typo
// shows in the first test that renders it. tlink is t with the message's
// [[text]] made a link to href (an http(s) or site-relative address;
// anything else leaves the text unlinked).
func pageFuncs(l locale.Lang) template.FuncMap {
	t := func(id string, args ...any) (template.HTML, error) {
		if !locale.Has(id) {
			return "", fmt.Errorf("no message %q", id)
		}
		for i, a := range args {
			switch a := a.(type) {
			case template.HTML:
				args[i] = string(a)
			case int, int64:
				// numbers stay numbers, for the language's digit grouping
			default:
				args[i] = template.HTMLEscapeString(fmt.Sprint(a))
			}
		}
		format := template.HTMLEscapeString(locale.Text(l, id))
		return template.HTML(locale.Format(l, format, args...)), nil
	}
	return template.FuncMap{
		"lower": strings.ToLower,
		"eq2":   func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) },
		"t":     t,
		"tlink": func(id, href string, args ...any) (template.HTML, error) {
			h, err := t(id, args...)
			if err != nil {
				return "", err
			}
			return linkMessage(h, href), nil
		},
		"date": func(v time.Time) string { return locale.Date(l, v) },
		// captchaStrings are the anti-spam widget's words in the page's
		// language, as its strings attribute takes them (JSON).
		"captchaStrings": func() string {
			b, _ := json.Marshal(map[string]string{
				"label": locale.T(l, "captcha.label"), "verifying": locale.T(l, "captcha.verifying"),
				"verified": locale.T(l, "captcha.verified"), "error": locale.T(l, "captcha.error"),
				"expired": locale.T(l, "captcha.expired"), "verificationRequired": locale.T(l, "captcha.required"),
				"waitAlert": locale.T(l, "captcha.wait"),
			})
			return string(b)
		},
		// tr is a notice or validation message the code states in English
		// (an API error, a field's error), in the page's language.
		"tr": func(english string) string { return locale.Error(l, english) },
		"timeTag": func(at, text string) template.HTML {
			return template.HTML(`<time datetime="` + template.HTMLEscapeString(at) + `">` + template.HTMLEscapeString(text) + `</time>`)
		},
	}
}

// Render writes page name with data and status, in the requester's
// language unless it is a staff page.
func (p *Pages) Render(c *gin.Context, status int, name string, data any) {
	l := locale.English
	var picker []langLink
	if !staffPages[name] {
		l = langOf(c)
		picker = langLinks(c, l)
	}
	t, ok := p.pages[l][name]
	if !ok {
		panic("server: no page " + name) // caught by recover; LoadPages tests catch it first
	}
	var buf bytes.Buffer
	err := t.ExecuteTemplate(&buf, "layout", PageData{Company: p.cfg.Company, Texts: p.cfg.CompanyText(l), Dev: p.cfg.Dev(),
		Lang: l, Langs: picker, Data: data})
	if err != nil {
		panic(fmt.Sprintf("server: render %s: %v", name, err))
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Language", string(l))
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// linkMessage makes the [[text]] of an escaped message a link to href, or
// plain text when href is not an http(s) or site-relative address.
func linkMessage(h template.HTML, href string) template.HTML {
	s := string(h)
	u, err := url.Parse(href)
	ok := err == nil && (u.Scheme == "https" || u.Scheme == "http" || u.Scheme == "" && strings.HasPrefix(href, "/") && !strings.HasPrefix(href, "//"))
	open := ""
	if ok {
		open = `<a href="` + template.HTMLEscapeString(href) + `">`
	}
	closing := ""
	if ok {
		closing = "</a>"
	}
	s = strings.Replace(s, "[[", open, 1)
	s = strings.Replace(s, "]]", closing, 1)
	return template.HTML(s)
}

// Has reports whether a page exists, for start-up checks and tests.
func (p *Pages) Has(name string) bool { _, ok := p.pages[locale.English][name]; return ok }

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
