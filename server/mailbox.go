package server

import (
	"net/http"
	"regexp"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar/mail"
)

// mailboxLimit is how many mails the dev mailbox lists.
const mailboxLimit = 200

// mailboxRoutes serve the dev outbox at /dev/mailbox, only when mail goes
// to the outbox (email.provider=outbox, dev mode); otherwise they are 404.
func (s *Server) mailboxRoutes() {
	if s.Outbox == nil {
		return
	}
	r := s.engine
	r.GET("/dev/mailbox", s.mailboxPage)
	r.GET("/dev/mailbox.json", s.mailboxJSON)
	r.GET("/dev/mailbox/:id", s.mailPage)
	r.GET("/dev/mailbox/:id/html", s.mailHTML)
}

// mailboxJSON lists the outbox, newest first, optionally only mail to ?to=:
// {"items": [{id, idempotency_key, from, to, subject, html, text, created_at}]}.
func (s *Server) mailboxJSON(c *gin.Context) {
	items, err := s.Outbox.List(c.Request.Context(), c.Query("to"), mailboxLimit)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (s *Server) mailboxPage(c *gin.Context) {
	items, err := s.Outbox.List(c.Request.Context(), c.Query("to"), mailboxLimit)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.pages.Render(c, http.StatusOK, "mailbox", gin.H{"Items": items, "To": c.Query("to")})
}

// findMail returns one stored mail, or nil.
func (s *Server) findMail(c *gin.Context) (*mail.OutboxMail, error) {
	items, err := s.Outbox.List(c.Request.Context(), "", mailboxLimit)
	if err != nil {
		return nil, err
	}
	for i := range items {
		if items[i].ID == c.Param("id") {
			return &items[i], nil
		}
	}
	return nil, nil
}

var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// mailPage shows one mail: headers, the text part, its links, and a link to
// the HTML part.
func (s *Server) mailPage(c *gin.Context) {
	m, err := s.findMail(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if m == nil {
		s.pages.Render(c, http.StatusNotFound, "notfound", nil)
		return
	}
	s.pages.Render(c, http.StatusOK, "mailbox_mail", gin.H{"Mail": m, "Links": linkRE.FindAllString(m.Text, -1)})
}

// mailHTML serves a mail's HTML part in a sandbox: no scripts, no requests.
func (s *Server) mailHTML(c *gin.Context) {
	m, err := s.findMail(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if m == nil {
		s.fail(c, errNotFound)
		return
	}
	c.Header("Content-Security-Policy", "sandbox allow-top-navigation-by-user-activation allow-popups; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'")
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(m.HTML))
}
