package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// Task files: the exports a data source's owner attaches to their task.
// An upload streams from the request body into sealed chunks in Postgres:
// a file of any allowed size never sits whole in memory.

// maxFileName bounds an uploaded file's name.
const maxFileName = 255

// multipartSlack is what a multipart body may carry beyond its file:
// boundaries, headers and small fields.
const multipartSlack = 64 << 10

// exportTypes are the content types an export may have, as sniffed from
// its first bytes (never the client's word). Text is refined by the
// file's extension (CSV, JSON, JSON lines). Archives are stored as they
// are and never unpacked.
var exportTypes = map[string]bool{
	"text/plain; charset=utf-8": true, "text/plain; charset=utf-16be": true, "text/plain; charset=utf-16le": true,
	"text/xml; charset=utf-8": true, "application/pdf": true, "application/zip": true, "application/x-gzip": true,
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
}

// textTypes name text exports by their extension.
var textTypes = map[string]string{
	".csv": "text/csv", ".tsv": "text/tab-separated-values", ".json": "application/json", ".jsonl": "application/x-ndjson",
	".ndjson": "application/x-ndjson", ".txt": "text/plain", ".xml": "application/xml",
}

// exportType is the stored content type of an export whose first bytes
// are head, or EUNSUPPORTED.
func exportType(head []byte, name string) (string, error) {
	sniffed := http.DetectContentType(head)
	if !exportTypes[sniffed] {
		return "", &dsar.Error{Code: dsar.EUNSUPPORTED, Message: "this kind of file cannot be attached to a task (found " + sniffed + ")",
			Fields: map[string]string{"file": "must be text (CSV, JSON, XML), PDF, an image, or a ZIP or gzip archive"}}
	}
	switch {
	case strings.HasPrefix(sniffed, "text/plain"), strings.HasPrefix(sniffed, "text/xml"):
		if t, ok := textTypes[strings.ToLower(path.Ext(name))]; ok {
			return t, nil
		}
		return strings.SplitN(sniffed, ";", 2)[0], nil
	case sniffed == "application/x-gzip":
		return "application/gzip", nil
	}
	return sniffed, nil
}

// activeExtensions name files a browser or a desktop runs or renders as
// active content.
var activeExtensions = map[string]bool{".html": true, ".htm": true, ".xhtml": true, ".svg": true, ".js": true, ".mjs": true,
	".hta": true, ".exe": true, ".bat": true, ".cmd": true, ".com": true, ".scr": true, ".msi": true, ".ps1": true, ".vbs": true,
	".jar": true, ".sh": true, ".app": true, ".lnk": true}

// cleanFileName checks an uploaded file's name: its last path element,
// printable, at most maxFileName characters.
func cleanFileName(name string) (string, error) {
	name = strings.TrimSpace(path.Base(strings.ReplaceAll(name, "\\", "/")))
	bad := func(why string) error { return dsar.Invalid(map[string]string{"file": why}) }
	switch {
	case name == "" || name == "." || name == ".." || name == "/":
		return "", bad("the file needs a name")
	case !utf8.ValidString(name):
		return "", bad("the file's name must be UTF-8")
	case utf8.RuneCountInString(name) > maxFileName:
		return "", bad(fmt.Sprintf("the file's name must be at most %d characters", maxFileName))
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
		// Cf: format characters, such as the right-to-left override that
		// makes "invoice\u202Efdp.exe" read as a PDF.
		return "", bad("the file's name must not hold control or formatting characters")
	case activeExtensions[strings.ToLower(path.Ext(name))]:
		// Served as attachments here, but opened by a browser once the
		// package is unpacked.
		return "", &dsar.Error{Code: dsar.EUNSUPPORTED, Message: "a web page, script or program cannot be attached to a task",
			Fields: map[string]string{"file": "export the data as CSV, JSON, XML, text or PDF"}}
	}
	return name, nil
}

// uploadTaskFile is POST /api/v1/requests/{id}/tasks/{data_source_id}/files
// (multipart, field "file"): the file is checked (size, sniffed type, name)
// as it streams into the store; 201 {id, name, size, sha256, content_type}.
// Refused (4xx), nothing is stored.
func (s *Server) uploadTaskFile(c *gin.Context) {
	me := staffUser(c)
	row, source, ok := s.staffTask(c)
	if !ok {
		return
	}
	limit := s.Config.Fulfilment.MaxFileSize
	tooBig := &dsar.Error{Code: dsar.ETOOLARGE, Message: "the file is larger than " + humanBytes(limit),
		Fields: map[string]string{"file": "must be at most " + humanBytes(limit)}}
	if c.Request.ContentLength > limit+multipartSlack {
		s.fail(c, tooBig)
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit+multipartSlack)
	s.allowTransfer(c, limit+multipartSlack, true)
	part, err := filePart(c)
	if err != nil {
		s.fail(c, bodyError(err, tooBig))
		return
	}
	name, err := cleanFileName(part.FileName())
	if err != nil {
		s.fail(c, err)
		return
	}
	body := bufio.NewReaderSize(part, 512)
	head, err := body.Peek(512)
	if len(head) == 0 {
		if err != nil && !errors.Is(err, io.EOF) {
			s.fail(c, bodyError(err, tooBig))
			return
		}
		s.fail(c, dsar.Invalid(map[string]string{"file": "the file is empty"}))
		return
	}
	ct, err := exportType(head, name)
	if err != nil {
		s.fail(c, err)
		return
	}
	f, err := s.DB.AddTaskFile(c.Request.Context(), s.Keys, store.NewTaskFile{RequestID: row.ID, DataSourceID: source, Name: name,
		ContentType: ct, UploadedBy: me.ID, Content: body, MaxSize: limit})
	if err != nil {
		if dsar.ErrorCode(err) == dsar.ETOOLARGE {
			err = tooBig
		}
		s.fail(c, bodyError(err, tooBig))
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": f.ID, "name": f.Name, "size": f.Size, "sha256": f.SHA256, "content_type": f.ContentType})
}

// staffTask is the route's request and task, as the caller may see them
// (a source owner: only their own); false once it has answered the error.
func (s *Server) staffTask(c *gin.Context) (store.Request, string, bool) {
	row, err := s.DB.Request(c.Request.Context(), c.Param("id"), ownerScope(staffUser(c)))
	if err != nil {
		s.fail(c, err)
		return store.Request{}, "", false
	}
	source, err := s.taskSource(c)
	if err != nil {
		s.fail(c, err)
		return store.Request{}, "", false
	}
	return row, source, true
}

// filePart is the multipart body's part named "file", with a file name;
// the parts before it are read past.
func filePart(c *gin.Context) (*multipart.Part, error) {
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return nil, &dsar.Error{Code: dsar.EBADREQUEST, Message: "send the file as multipart/form-data",
			Fields: map[string]string{"file": "send it as multipart/form-data, in a field named file"}}
	}
	for {
		p, err := mr.NextPart()
		var maxErr *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return nil, dsar.Invalid(map[string]string{"file": "attach a file in a field named file"})
		case errors.As(err, &maxErr):
			return nil, err
		case err != nil:
			return nil, &dsar.Error{Code: dsar.EBADREQUEST, Message: "the upload is not valid multipart: " + err.Error(),
				Fields: map[string]string{"file": "send it as multipart/form-data, in a field named file"}}
		}
		if p.FormName() == "file" {
			return p, nil
		}
		if _, err := io.Copy(io.Discard, p); err != nil {
			return nil, err
		}
	}
}

// bodyError is the error to answer for a failure while reading an upload:
// the body's limit is tooBig; a body cut short or malformed is 400.
func bodyError(err error, tooBig error) error {
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return tooBig
	case dsar.ErrorCode(err) != dsar.EINTERNAL:
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "multipart"):
		return &dsar.Error{Code: dsar.EBADREQUEST, Message: "the upload was cut short or is not valid multipart",
			Fields: map[string]string{"file": "send the whole file again"}}
	}
	return err
}

// taskFileJSON is a task file in the request detail and the package.
type taskFileJSON struct {
	store.TaskFile
	URL      string `json:"url"`
	Included bool   `json:"included"` // in the current package
}

// taskFileDownload is GET
// /api/v1/requests/{id}/tasks/{data_source_id}/files/{file_id}: the file,
// as an attachment, every download audited; 410 once the request is
// erased.
func (s *Server) taskFileDownload(c *gin.Context) {
	row, source, ok := s.staffTask(c)
	if !ok {
		return
	}
	f, r, err := s.DB.OpenTaskFile(c.Request.Context(), s.Keys, row.ID, c.Param("file_id"))
	if err == nil && f.DataSourceID != source {
		r.Close()
		err = dsar.Errorf(dsar.ENOTFOUND, "no such file")
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	defer r.Close()
	if err := s.auditStaff(c, row.ID, dsar.AuditTaskFileDownloaded, map[string]any{"file_id": f.ID, "data_source_id": source}); err != nil {
		s.fail(c, err)
		return
	}
	s.sendStream(c, f.Name, f.ContentType, f.Size, r)
}

// slowestTransfer is the slowest client a large upload or download is
// given time for (bytes per second), beyond the server's usual timeouts.
const slowestTransfer = 64 << 10

// allowTransfer extends the server's read (upload) or write (download)
// deadline for a body of size bytes, at slowestTransfer: the usual two
// minutes would cut a large export or package short.
func (s *Server) allowTransfer(c *gin.Context, size int64, reading bool) {
	deadline := time.Now().Add(2*time.Minute + time.Duration(size/slowestTransfer)*time.Second)
	rc := http.NewResponseController(c.Writer)
	err := rc.SetWriteDeadline(deadline) // an upload's answer comes after it, too
	if reading && err == nil {
		err = rc.SetReadDeadline(deadline)
	}
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.Log.Warn("cannot extend the transfer's deadline", "err", err)
	}
}

// sendStream answers content as a download named name: never shown inline,
// never cached, sandboxed.
func (s *Server) sendStream(c *gin.Context, name, contentType string, size int64, r io.Reader) {
	s.allowTransfer(c, size, false)
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Security-Policy", "default-src 'none'; sandbox")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Content-Length", strconv.FormatInt(size, 10))
	c.Header("Content-Type", contentType)
	c.Status(http.StatusOK)
	if _, err := io.Copy(c.Writer, r); err != nil {
		// The status is sent: the client sees a download cut short. (No
		// file name in the log: it may name the requester.)
		s.Log.Error("download cut short", "size", size, "err", err)
		c.Abort()
	}
}
