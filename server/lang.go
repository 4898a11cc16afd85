package server

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/locale"
)

// langCookie remembers the language the requester picked on a page.
const langCookie = "lang"

// langKey is where chooseLang leaves the request's language in the gin
// context.
const langKey = "dsar.lang"

// chooseLang decides the language a requester is answered in: ?lang= (the
// picker's links; remembered in the lang cookie for a year), else the lang
// cookie, else the browser's Accept-Language, else English. An unknown
// ?lang= is 422 (EINVALID) naming the field and the languages offered.
func (s *Server) chooseLang(c *gin.Context) {
	l := locale.FromAcceptLanguage(c.GetHeader("Accept-Language"))
	if v, err := c.Cookie(langCookie); err == nil {
		if p, ok := locale.Parse(v); ok {
			l = p
		}
	}
	if v, ok := c.GetQuery("lang"); ok {
		p, ok := locale.Parse(v)
		if !ok {
			s.fail(c, dsar.Invalid(map[string]string{"lang": "must be one of en, de, fr, es"}))
			c.Abort()
			return
		}
		l = p
		http.SetCookie(c.Writer, &http.Cookie{Name: langCookie, Value: string(l), Path: "/", MaxAge: 365 * 24 * 3600,
			Secure: !s.Config.Dev(), HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	c.Set(langKey, l)
	c.Next()
}

// langOf is the language chooseLang decided for this request.
func langOf(c *gin.Context) locale.Lang {
	if v, ok := c.Get(langKey); ok {
		return v.(locale.Lang)
	}
	if v, err := c.Cookie(langCookie); err == nil { // the picker's choice, on the API too
		if p, ok := locale.Parse(v); ok {
			return p
		}
	}
	return locale.FromAcceptLanguage(c.GetHeader("Accept-Language"))
}

// langLink is one entry of the language picker.
type langLink struct {
	Lang    locale.Lang
	Name    string
	URL     string
	Current bool
}

// langLinks is the language picker of the page answering c: this page (a
// GET's own address, query kept) in each language.
func langLinks(c *gin.Context, current locale.Lang) []langLink {
	u := url.URL{Path: c.Request.URL.Path}
	q := url.Values{}
	if c.Request.Method == http.MethodGet {
		q = c.Request.URL.Query()
	}
	out := make([]langLink, len(locale.Langs))
	for i, l := range locale.Langs {
		q.Set("lang", string(l))
		u.RawQuery = q.Encode()
		out[i] = langLink{Lang: l, Name: l.Name(), URL: u.String(), Current: l == current}
	}
	return out
}
