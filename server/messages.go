package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// Limits of a message: the text, and the files attached to one message
// (each at most intake.max_upload_bytes).
const (
	maxMessageChars       = 20000
	maxMessageAttachments = 5
	maxAttachmentName     = 200
)

// attachmentTypes are the content types a message attachment may have, as
// sniffed from its bytes (never the client's word): what delivering a
// subject's data needs and a browser will not run.
var attachmentTypes = map[string]string{
	"application/pdf": "application/pdf",
	"image/png":       "image/png",
	"image/jpeg":      "image/jpeg",
	"application/zip": "application/zip",
	"text/plain":      "text/plain; charset=utf-8",
}

// attachmentTypesText names the accepted types for error messages.
const attachmentTypesText = "must be a PDF, PNG, JPEG, ZIP or plain-text (CSV, JSON, TXT) file"

// messageInput is a new message as a client sent it, checked.
type messageInput struct {
	Body        string
	Attachments []store.NewAttachment
}

// readMessage reads a new message from the request: JSON {"body"}, or a
// form (multipart with files under "attachments" or "attachment", or
// url-encoded) with a "body" field. Errors are *dsar.Error naming the field.
func (s *Server) readMessage(c *gin.Context) (messageInput, error) {
	var in messageInput
	switch c.ContentType() {
	case "application/json":
		var body struct {
			Body string `json:"body"`
		}
		if err := bindJSON(c, &body); err != nil {
			return in, err
		}
		in.Body = body.Body
	case "multipart/form-data":
		limit := int64(maxMessageAttachments)*s.Config.Intake.MaxUploadBytes + maxJSONBody
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		if err := c.Request.ParseMultipartForm(8 << 20); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return in, dsar.Errorf(dsar.ETOOLARGE, "the message is larger than %d bytes", limit)
			}
			return in, dsar.Errorf(dsar.EBADREQUEST, "the form cannot be read")
		}
		defer func() { _ = c.Request.MultipartForm.RemoveAll() }()
		in.Body = c.Request.PostFormValue("body")
		files := append(c.Request.MultipartForm.File["attachments"], c.Request.MultipartForm.File["attachment"]...)
		var err error
		if in.Attachments, err = s.readAttachments(files); err != nil {
			return in, err
		}
	case "application/x-www-form-urlencoded":
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxJSONBody)
		if err := c.Request.ParseForm(); err != nil {
			return in, dsar.Errorf(dsar.EBADREQUEST, "the form cannot be read")
		}
		in.Body = c.Request.PostFormValue("body")
	default:
		return in, dsar.Errorf(dsar.EUNSUPPORTED, "send the message as application/json or a form")
	}
	in.Body = strings.ReplaceAll(in.Body, "\r\n", "\n")
	switch {
	case !utf8.ValidString(in.Body):
		return in, dsar.Invalid(map[string]string{"body": "must be UTF-8 text"})
	case strings.TrimSpace(in.Body) == "" && len(in.Attachments) == 0:
		return in, dsar.Invalid(map[string]string{"body": "must not be empty"})
	case utf8.RuneCountInString(in.Body) > maxMessageChars:
		return in, dsar.Invalid(map[string]string{"body": fmt.Sprintf("must be at most %d characters", maxMessageChars)})
	}
	return in, nil
}

// readAttachments reads and checks uploaded files: at most
// maxMessageAttachments, none empty or over intake.max_upload_bytes, each of
// a sniffed type in attachmentTypes.
func (s *Server) readAttachments(files []*multipart.FileHeader) ([]store.NewAttachment, error) {
	if len(files) > maxMessageAttachments {
		return nil, dsar.Invalid(map[string]string{"attachments": fmt.Sprintf("at most %d files per message", maxMessageAttachments)})
	}
	max := s.Config.Intake.MaxUploadBytes
	out := []store.NewAttachment{}
	for _, fh := range files {
		if fh.Size > max {
			return nil, &dsar.Error{Code: dsar.ETOOLARGE, Message: "an attachment is too large",
				Fields: map[string]string{"attachments": fmt.Sprintf("each file must be at most %d bytes", max)}}
		}
		f, err := fh.Open()
		if err != nil {
			return nil, dsar.Errorf(dsar.EBADREQUEST, "an attachment cannot be read")
		}
		data, err := io.ReadAll(io.LimitReader(f, max+1))
		f.Close()
		if err != nil {
			return nil, dsar.Errorf(dsar.EBADREQUEST, "an attachment cannot be read")
		}
		if len(data) == 0 {
			return nil, dsar.Invalid(map[string]string{"attachments": "a file is empty"})
		}
		if int64(len(data)) > max {
			return nil, &dsar.Error{Code: dsar.ETOOLARGE, Message: "an attachment is too large",
				Fields: map[string]string{"attachments": fmt.Sprintf("each file must be at most %d bytes", max)}}
		}
		sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(data))
		ct, ok := attachmentTypes[sniffed]
		if !ok {
			return nil, &dsar.Error{Code: dsar.EUNSUPPORTED, Message: "an attachment has a type that is not accepted",
				Fields: map[string]string{"attachments": attachmentTypesText}}
		}
		out = append(out, store.NewAttachment{Filename: cleanFilename(fh.Filename), ContentType: ct, Data: data})
	}
	return out, nil
}

// cleanFilename keeps the base name of an uploaded file, without control
// characters, at most maxAttachmentName characters; "attachment" if nothing
// is left.
func cleanFilename(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '"' || r == '/' {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	name = strings.TrimSpace(name)
	if r := []rune(name); len(r) > maxAttachmentName {
		name = string(r[len(r)-maxAttachmentName:])
	}
	if name == "" || name == "." || name == ".." {
		return "attachment"
	}
	return name
}

// messageJSON is a message on the wire (API.md: id, from, body, sent_at),
// with its attachments. Author and ReadAt are for staff only.
type messageJSON struct {
	ID          string           `json:"id"`
	From        string           `json:"from"`
	Body        string           `json:"body"`
	SentAt      time.Time        `json:"sent_at"`
	Author      string           `json:"author,omitempty"`
	ReadAt      *time.Time       `json:"read_at,omitempty"`
	Attachments []attachmentJSON `json:"attachments"`
}

// attachmentJSON is an attachment on the wire, with the URL to download it.
type attachmentJSON struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	URL         string `json:"url"`
}

// messagesJSON shapes messages for the API; forStaff adds authors and read
// receipts, base is the prefix of attachment URLs.
func messagesJSON(msgs []store.Message, forStaff bool, base string) []messageJSON {
	out := make([]messageJSON, 0, len(msgs))
	for _, m := range msgs {
		j := messageJSON{ID: m.ID, From: m.Sender, Body: m.Body, SentAt: m.CreatedAt.UTC(), Attachments: []attachmentJSON{}}
		if forStaff {
			j.Author = m.StaffName
			j.ReadAt = m.ReadByRequesterAt
			if m.Sender == store.SenderRequester {
				j.ReadAt = m.ReadByStaffAt
			}
		}
		for _, a := range m.Attachments {
			j.Attachments = append(j.Attachments, attachmentJSON{ID: a.ID, Filename: a.Filename, ContentType: a.ContentType,
				Size: a.Size, URL: base + "/attachments/" + a.ID})
		}
		out = append(out, j)
	}
	return out
}

// messageRoutes are the staff side of the secure messages, guarded by the
// access table (access.go): org owners, admins and managers read and write
// on every request; for anyone else (source owners) they do not exist (404).
func (s *Server) messageRoutes() {
	s.handle(http.MethodGet, "/api/v1/requests/:id/messages", s.staffMessages)
	s.handle(http.MethodPost, "/api/v1/requests/:id/messages", s.staffPostMessage)
	s.handle(http.MethodGet, "/api/v1/requests/:id/attachments/:attachment_id", s.staffAttachment)
}

// staffMessages answers a request's messages, oldest first, and how many of
// the requester's were unread; reading marks them read.
func (s *Server) staffMessages(c *gin.Context) {
	id := c.Param("id")
	if _, err := s.DB.MessageThreadStatus(c.Request.Context(), id); err != nil {
		s.fail(c, err)
		return
	}
	msgs, err := s.DB.Messages(c.Request.Context(), s.Keys, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	unread, err := s.DB.MarkMessagesRead(c.Request.Context(), id, store.SenderStaff)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": messagesJSON(msgs, true, "/api/v1/requests/"+id), "unread": unread})
}

// staffPostMessage stores a staff message (JSON {"body"}, or a form with
// attachments) and mails the requester that a message is waiting. It
// answers 201 {id, notified}: notified is false when no mail went out, as
// after close, when the requester's address is erased and they read the
// message the next time they sign in to the portal.
func (s *Server) staffPostMessage(c *gin.Context) {
	id := c.Param("id")
	if _, err := s.DB.MessageThreadStatus(c.Request.Context(), id); err != nil {
		s.fail(c, err)
		return
	}
	in, err := s.readMessage(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	u := staffUser(c)
	msg, err := s.DB.AddMessage(c.Request.Context(), s.Keys, store.NewMessage{RequestID: id, Sender: store.SenderStaff, StaffUserID: u.ID,
		ActorID: u.ID, Body: in.Body, Attachments: in.Attachments})
	if err != nil {
		s.fail(c, err)
		return
	}
	notified := s.nudgeRequester(c.Request.Context(), id, msg.ID)
	c.JSON(http.StatusCreated, gin.H{"id": msg.ID, "notified": notified})
}

// staffAttachment sends an attachment of one of the request's messages.
func (s *Server) staffAttachment(c *gin.Context) {
	u := staffUser(c)
	s.sendAttachment(c, c.Param("id"), c.Param("attachment_id"), store.ActorStaff, u.ID)
}

// sendAttachment answers an attachment of request requestID as a download,
// and audits who fetched it. Another request's attachment is 404.
func (s *Server) sendAttachment(c *gin.Context, requestID, attachmentID, actorKind, actorID string) {
	a, err := s.DB.MessageAttachment(c.Request.Context(), s.Keys, requestID, attachmentID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if _, err := s.DB.AppendAudit(c.Request.Context(), store.Audit{RequestID: requestID, ActorKind: actorKind, ActorID: actorID,
		Action: dsar.AuditAttachmentDownloaded, Detail: map[string]any{"attachment_id": a.ID, "message_id": a.MessageID}}); err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}))
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Security-Policy", "default-src 'none'; sandbox")
	c.Data(http.StatusOK, a.ContentType, a.Data)
}

// messageWaitingMail is the data of the message_waiting mail: no message
// text, only the way to read it.
type messageWaitingMail struct {
	Company   any
	PortalURL string
	Signature string
}

// portalURL is the portal's address for links in mail.
func (s *Server) portalURL() string { return strings.TrimRight(s.Config.PublicURL, "/") + "/portal" }

// nudgeRequester mails the requester of a request that a staff message is
// waiting in the portal (never the text), once per message, and reports
// whether the mail went out. Once the request's PII is scrubbed there is no
// address and no mail; the message is stored either way, so a failure to
// mail is logged, not returned.
func (s *Server) nudgeRequester(ctx context.Context, requestID, messageID string) bool {
	pii, err := s.DB.RequestPII(ctx, s.Keys, requestID)
	if dsar.ErrorCode(err) == dsar.EGONE {
		return false
	}
	if err != nil {
		s.Log.Error("message nudge: requester's address", "request_id", requestID, "err", err)
		return false
	}
	rl, err := s.DB.RequestLocaleOf(ctx, requestID)
	if err != nil {
		s.Log.Error("message nudge: requester's language", "request_id", requestID, "err", err)
		return false
	}
	base := activities.RequesterMailData(s.Config, rl.Language.Or(), rl.Jurisdiction)
	m, err := s.Templates.RenderIn(rl.Language, activities.MailMessageWaiting, pii.Email,
		messageWaitingMail{Company: base["Company"], PortalURL: s.portalURL(), Signature: base["Signature"].(string)})
	if err != nil {
		s.Log.Error("message nudge: render", "request_id", requestID, "err", err)
		return false
	}
	m.IdempotencyKey = "message-waiting-" + messageID
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	sendErr := s.Mailer.Send(ctx, m)
	// Every mail to the requester is in the audit trail, sent or failed.
	action, detail := dsar.AuditMailSent, map[string]any{"kind": activities.MailMessageWaiting, "message_id": messageID}
	if sendErr != nil {
		action, detail["error"] = dsar.AuditMailFailed, "failed"
	}
	if _, err := s.DB.AppendAudit(ctx, store.Audit{RequestID: requestID, ActorKind: store.ActorSystem,
		Action: action, Detail: detail}); err != nil {
		s.Log.Error("message nudge: audit the mail", "request_id", requestID, "message_id", messageID, "err", err)
	}
	if sendErr != nil {
		s.Log.Error("message nudge: send", "request_id", requestID, "message_id", messageID, "err", sendErr)
		return false
	}
	return true
}
