package server

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"runtime"
	"strings"
	"testing"

	"github.com/opendsar/dsar"
)

// uploadLimit is fulfilment.max_file_size in the upload tests.
const uploadLimit = 4 << 20

// uploadEnv is a request in progress with a task on the CRM, owned by
// olivia; bob owns the billing system, which has no task on it.
type uploadEnv struct {
	*staffEnv
	id      string
	crm     string
	billing string
	manager string
	olivia  string
	bob     string
	files   string // the CRM task's files route
}

func newUploadEnv(t *testing.T) *uploadEnv {
	t.Helper()
	e := &uploadEnv{staffEnv: newStaffEnv(t, map[string]any{"fulfilment.max_file_size": uploadLimit})}
	_, e.manager = e.user(dsar.RoleManager)
	olivia, oliviaTok := e.user(dsar.RoleSourceOwner)
	bob, bobTok := e.user(dsar.RoleSourceOwner)
	e.olivia, e.bob = oliviaTok, bobTok
	crm, err := e.db.CreateDataSource(e.ctx, "CRM", "", []string{olivia.ID})
	if err != nil {
		t.Fatal(err)
	}
	billing, err := e.db.CreateDataSource(e.ctx, "Billing", "", []string{bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	e.crm, e.billing = crm.ID, billing.ID
	e.id = e.request(newRequest{Document: pngDocument})
	e.verifyEmail(e.id)
	e.want(e.do("POST", "/api/v1/requests/"+e.id+"/identity-verification", e.manager, map[string]any{"verified": true}), http.StatusOK, "verify")
	e.want(e.do("POST", "/api/v1/requests/"+e.id+"/assignments", e.manager, map[string]any{"data_source_ids": []string{e.crm}}),
		http.StatusOK, "assign")
	e.eventually("the task is projected", func() bool {
		return e.count(`SELECT count(*) FROM tasks WHERE request_id = $1 AND data_source_id = $2 AND status = 'open'`, e.id, e.crm) == 1
	})
	e.files = "/api/v1/requests/" + e.id + "/tasks/" + e.crm + "/files"
	return e
}

// stored is how many task files and chunks there are.
func (e *uploadEnv) stored() [2]int {
	return [2]int{e.count(`SELECT count(*) FROM task_files`), e.count(`SELECT count(*) FROM task_file_chunks`)}
}

// formPart is one part of a multipart body. disposition, when set, is
// its Content-Disposition as it is (for names a well-behaved client would
// escape).
type formPart struct {
	field, filename, disposition string
	content                      []byte
}

func multipartBody(t *testing.T, parts ...formPart) (contentType string, body []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		switch {
		case p.disposition != "":
			h.Set("Content-Disposition", p.disposition)
		case p.filename != "":
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.field, p.filename))
		default:
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, p.field))
		}
		h.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(p.content); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), b.Bytes()
}

func fileBody(t *testing.T, name string, content []byte) (string, []byte) {
	return multipartBody(t, formPart{field: "file", filename: name, content: content})
}

// upload posts body to path; chunked sends it without a Content-Length.
func (e *uploadEnv) upload(path, token, contentType string, body []byte, chunked bool) answer {
	e.t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // no length known: sent chunked
	}
	req, err := http.NewRequestWithContext(e.ctx, "POST", e.http.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if chunked {
		req.ContentLength = -1
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// errorFields is an error answer's fields.
func errorFields(t *testing.T, a answer) map[string]any {
	t.Helper()
	errBody, _ := a.JSON(t)["error"].(map[string]any)
	fields, _ := errBody["fields"].(map[string]any)
	return fields
}

func text(n int) []byte {
	line := []byte("alice@example.net,Alice Liddell,2024-01-01,order 42\n")
	return bytes.Repeat(line, n/len(line)+1)[:n]
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// TestHostileUploadsAreRefused: each upload an attacker or a confused
// client could send to a task's files route is answered with its status,
// naming the file field, and stores nothing.
func TestHostileUploadsAreRefused(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t)
	elf := append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00"), randomBytes(4000)...)
	pe := append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"), []byte("This program cannot be run in DOS mode.")...)
	html := []byte("<!DOCTYPE html><html><body><script>fetch('/api/v1/users').then(r => r.text()).then(alert)</script></body></html>\n")

	type body struct {
		contentType string
		data        []byte
	}
	for _, tc := range []struct {
		name    string
		body    func() body
		chunked bool
		status  int
	}{
		{name: "larger than the limit, with its length", status: http.StatusRequestEntityTooLarge, body: func() body {
			ct, b := fileBody(t, "big.csv", text(uploadLimit+1<<20))
			return body{ct, b}
		}},
		{name: "larger than the limit, chunked", chunked: true, status: http.StatusRequestEntityTooLarge, body: func() body {
			ct, b := fileBody(t, "big.csv", text(uploadLimit+1<<20))
			return body{ct, b}
		}},
		{name: "a byte past the limit", status: http.StatusRequestEntityTooLarge, body: func() body {
			ct, b := fileBody(t, "big.csv", text(uploadLimit+1))
			return body{ct, b}
		}},
		{name: "a byte past the limit, chunked", chunked: true, status: http.StatusRequestEntityTooLarge, body: func() body {
			ct, b := fileBody(t, "big.csv", text(uploadLimit+1))
			return body{ct, b}
		}},
		{name: "an ELF executable named .csv", status: http.StatusUnsupportedMediaType, body: func() body {
			ct, b := fileBody(t, "export.csv", elf)
			return body{ct, b}
		}},
		{name: "a Windows executable named .pdf", status: http.StatusUnsupportedMediaType, body: func() body {
			ct, b := fileBody(t, "export.pdf", pe)
			return body{ct, b}
		}},
		{name: "an HTML page", status: http.StatusUnsupportedMediaType, body: func() body {
			ct, b := fileBody(t, "export.html", html)
			return body{ct, b}
		}},
		{name: "an HTML page named .csv", status: http.StatusUnsupportedMediaType, body: func() body {
			ct, b := fileBody(t, "export.csv", html)
			return body{ct, b}
		}},
		{name: "unknown binary", status: http.StatusUnsupportedMediaType, body: func() body {
			ct, b := fileBody(t, "export.bin", randomBytes(2000))
			return body{ct, b}
		}},
		{name: "an empty file", status: http.StatusUnprocessableEntity, body: func() body {
			ct, b := fileBody(t, "export.csv", nil)
			return body{ct, b}
		}},
		{name: "JSON instead of multipart", status: http.StatusBadRequest, body: func() body {
			return body{"application/json", []byte(`{"file": "YWxpY2UK", "name": "export.csv"}`)}
		}},
		{name: "no body", status: http.StatusBadRequest, body: func() body { return body{"multipart/form-data", nil} }},
		{name: "multipart without a file part", status: http.StatusUnprocessableEntity, body: func() body {
			ct, b := multipartBody(t, formPart{field: "note", content: []byte("the export")},
				formPart{field: "attachment", filename: "export.csv", content: text(100)})
			return body{ct, b}
		}},
		{name: "a file field that is not a file", status: http.StatusUnprocessableEntity, body: func() body {
			ct, b := multipartBody(t, formPart{field: "file", content: text(100)})
			return body{ct, b}
		}},
		{name: "a control character in the name (RFC 2231)", status: http.StatusUnprocessableEntity, body: func() body {
			ct, b := multipartBody(t, formPart{disposition: `form-data; name="file"; filename*=UTF-8''export%01.csv`, content: text(100)})
			return body{ct, b}
		}},
		{name: "a line break in the name (RFC 2231)", status: http.StatusUnprocessableEntity, body: func() body {
			ct, b := multipartBody(t, formPart{disposition: `form-data; name="file"; filename*=UTF-8''export%0D%0AX-Evil%3A%201.csv`,
				content: text(100)})
			return body{ct, b}
		}},
		{name: "a DEL character in the name (RFC 2231)", status: http.StatusUnprocessableEntity, body: func() body {
			ct, b := multipartBody(t, formPart{disposition: `form-data; name="file"; filename*=UTF-8''export%7F.csv`, content: text(100)})
			return body{ct, b}
		}},
		{name: "a name too long", status: http.StatusUnprocessableEntity, body: func() body {
			ct, b := fileBody(t, strings.Repeat("a", 300)+".csv", text(100))
			return body{ct, b}
		}},
		{name: "a name of only a directory", status: http.StatusUnprocessableEntity, body: func() body {
			ct, b := fileBody(t, "/", text(100))
			return body{ct, b}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.body()
			before := e.stored()
			a := e.upload(e.files, e.olivia, b.contentType, b.data, tc.chunked)
			if a.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.Status, tc.status, a.Body)
			}
			if f := errorFields(t, a); f["file"] == nil || f["file"] == "" {
				t.Errorf("the answer does not name the file field: %s", a.Body)
			}
			if after := e.stored(); after != before {
				t.Errorf("task files and chunks: %v before, %v after", before, after)
			}
		})
	}
}

// TestHostileUploadsOfOthers: a source owner uploads only to the tasks of
// their sources; a task completed takes no more files.
func TestHostileUploadsOfOthers(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t)
	ct, b := fileBody(t, "export.csv", text(1000))
	before := e.stored()
	e.want(e.upload(e.files, e.bob, ct, b, false), http.StatusNotFound, "bob uploads to the CRM's task")
	e.want(e.upload("/api/v1/requests/"+e.id+"/tasks/"+e.billing+"/files", e.bob, ct, b, false), http.StatusNotFound,
		"bob uploads to a task the request does not have")
	e.want(e.upload("/api/v1/requests/"+e.id+"/tasks/"+e.billing+"/files", e.manager, ct, b, false), http.StatusNotFound,
		"the manager uploads to a task the request does not have")
	if after := e.stored(); after != before {
		t.Fatalf("task files and chunks: %v before, %v after", before, after)
	}

	// Olivia's own upload is stored, under the name's last element only.
	ct2, b2 := fileBody(t, "../../etc/passwd.csv", text(1000))
	got := e.want(e.upload(e.files, e.olivia, ct2, b2, false), http.StatusCreated, "olivia uploads").JSON(t)
	if got["name"] != "passwd.csv" || got["size"] != float64(1000) || got["content_type"] != "text/csv" {
		t.Errorf("stored %v", got)
	}
	// Bob cannot download it either.
	e.want(e.do("GET", e.files+"/"+got["id"].(string), e.bob, nil), http.StatusNotFound, "bob downloads olivia's file")

	e.want(e.do("POST", "/api/v1/requests/"+e.id+"/tasks/"+e.crm+"/completion", e.olivia,
		map[string]any{"outcome": "data_provided", "record_count": 1}), http.StatusOK, "complete")
	e.eventually("the task is completed", func() bool {
		return e.count(`SELECT count(*) FROM tasks WHERE request_id = $1 AND status = 'completed'`, e.id) == 1
	})
	before = e.stored()
	a := e.want(e.upload(e.files, e.olivia, ct, b, false), http.StatusConflict, "an upload after completion")
	if code := a.JSON(t)["error"].(map[string]any)["code"]; code != dsar.ECONFLICT {
		t.Errorf("code %v", code)
	}
	if after := e.stored(); after != before {
		t.Errorf("task files and chunks: %v before, %v after", before, after)
	}
}

// zipBomb is a small zip whose one entry inflates to size bytes of zeros.
func zipBomb(t *testing.T, size int64) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	z.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	w, err := z.Create("export.csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, io.LimitReader(zeros{}, size)); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestHostileZipBombIsStoredNotUnpacked: a 1 GiB zip bomb of about a
// megabyte is an archive like any other: stored as it came (its size the
// bytes uploaded), never inflated, and downloaded byte for byte.
func TestHostileZipBombIsStoredNotUnpacked(t *testing.T) {
	// Not parallel: the memory the server allocates is measured.
	e := newUploadEnv(t)
	bomb := zipBomb(t, 1<<30)
	if len(bomb) > 4<<20 {
		t.Fatalf("the bomb is %d bytes", len(bomb))
	}
	ct, b := fileBody(t, "orders.zip", bomb)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := e.want(e.upload(e.files, e.olivia, ct, b, false), http.StatusCreated, "the bomb").JSON(t)
	runtime.ReadMemStats(&after)
	sum := sha256.Sum256(bomb)
	if got["size"] != float64(len(bomb)) || got["sha256"] != hex.EncodeToString(sum[:]) || got["content_type"] != "application/zip" {
		t.Errorf("stored %v; uploaded %d bytes, sha256 %x", got, len(bomb), sum)
	}
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("the upload of %d bytes allocated %d MiB in the process", len(bomb), grew>>20)
	if grew > 256<<20 {
		t.Errorf("storing a %d-byte zip allocated %d MiB: it was inflated", len(bomb), grew>>20)
	}
	dl := e.want(e.do("GET", e.files+"/"+got["id"].(string), e.olivia, nil), http.StatusOK, "download")
	if !bytes.Equal(dl.Body, bomb) {
		t.Errorf("downloaded %d bytes, not the %d uploaded", len(dl.Body), len(bomb))
	}
	if cd := dl.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, "orders.zip") {
		t.Errorf("Content-Disposition %q", cd)
	}
}

// TestHostileUploadCutShortStoresNothing: an upload whose file is cut
// short has not uploaded the file: nothing is stored, and the answer is
// not a success. Two ways: the multipart body ends inside the file (the
// HTTP body itself complete: a client or proxy that truncated it), and the
// client going away half-way.
func TestHostileUploadCutShortStoresNothing(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t)
	for _, size := range []int{200 << 10, 3 << 20} {
		ct, b := fileBody(t, "export.csv", text(size))
		before := e.stored()
		a := e.upload(e.files, e.olivia, ct, b[:len(b)/2], false)
		if a.Status != http.StatusBadRequest {
			t.Errorf("a multipart body ending half-way through a file of %d bytes: status %d, want 400: %s", size, a.Status, a.Body)
		}
		if after := e.stored(); after != before {
			t.Errorf("a multipart body ending half-way through a file of %d bytes: task files and chunks %v before, %v after",
				size, before, after)
		}
	}
	for _, size := range []int{200 << 10, 3 << 20} {
		ct, b := fileBody(t, "export.csv", text(size))
		before := e.stored()
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.http.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
			e.files, e.olivia, ct, len(b))
		if _, err := conn.Write(b[:len(b)/2]); err != nil {
			t.Fatal(err)
		}
		_ = conn.(*net.TCPConn).CloseWrite() // the client goes away half-way
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Logf("the client gone half-way through %d bytes: no answer (%v)", size, err)
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Logf("the client gone half-way through %d bytes: status %d: %s", size, resp.StatusCode, body)
			if resp.StatusCode < 400 {
				t.Errorf("the client gone half-way through %d bytes: status %d", size, resp.StatusCode)
			}
		}
		conn.Close()
		if after := e.stored(); after != before {
			t.Errorf("the client gone half-way through %d bytes: task files and chunks %v before, %v after", size, before, after)
		}
	}
}

// TestHostileMalformedPartHeader: a part header Go's reader refuses (a
// control character in a raw file name) is the client's mistake: 400
// naming the file, not a 500 logged as the server's failure.
func TestHostileMalformedPartHeader(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t)
	before := e.stored()
	for _, disposition := range []string{
		"form-data; name=\"file\"; filename=\"export\x01.csv\"",
		"form-data; name=\"file\"; filename=\"export\x00.csv\"",
	} {
		ct, b := multipartBody(t, formPart{disposition: disposition, content: text(100)})
		a := e.upload(e.files, e.olivia, ct, b, false)
		if a.Status != http.StatusBadRequest && a.Status != http.StatusUnprocessableEntity {
			t.Errorf("%q: status %d, want 400 or 422: %s", disposition, a.Status, a.Body)
		} else if f := errorFields(t, a); f["file"] == nil {
			t.Errorf("%q: the answer does not name the file field: %s", disposition, a.Body)
		}
	}
	if after := e.stored(); after != before {
		t.Errorf("task files and chunks: %v before, %v after", before, after)
	}
}

// TestHostileUploadNameSpoofing: cleanFileName promises a printable name;
// a right-to-left override (U+202E, a format character) makes
// "invoice\u202Efdp.exe" read as "invoiceexe.pdf" in the console.
func TestHostileUploadNameSpoofing(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t)
	before := e.stored()
	ct, b := multipartBody(t, formPart{disposition: `form-data; name="file"; filename*=UTF-8''invoice%E2%80%AEvsc.exe`, content: text(100)})
	a := e.upload(e.files, e.olivia, ct, b, false)
	if a.Status != http.StatusUnprocessableEntity {
		t.Errorf("a name with a right-to-left override: status %d, want 422: %s", a.Status, a.Body)
	}
	if after := e.stored(); after != before {
		t.Errorf("task files and chunks: %v before, %v after", before, after)
	}
}
