package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/testenv"
)

// The fuzz targets here run offline: no database, no Temporal. They feed
// hostile bytes to the parsers in front of the store and check that each
// answer is either a clean 4xx naming known fields or a value that passes
// every rule. `make fuzz` runs them; their seeds are in testdata/fuzz.

// fuzzServer is a server with only what parsing needs: the config.
func fuzzServer(f *testing.F) *Server {
	f.Helper()
	cfg := testenv.Config(f, "", "", map[string]any{"intake.max_upload_bytes": 64 << 10})
	return &Server{Deps: Deps{Config: cfg}}
}

// formFields are the text fields of a submission, in the fuzz arguments'
// order.
var formFields = []string{"first_name", "last_name", "email", "country", "region", "requestor_type", "request_type", "description", "captcha"}

// knownField reports whether an error may name field.
func knownField(field string) bool {
	if field == "identity_document" {
		return true
	}
	for _, f := range formFields {
		if f == field {
			return true
		}
	}
	return false
}

// checkClientError fails unless err is a *dsar.Error answered with a 4xx
// whose fields, if any, are all known to the caller.
func checkClientError(t *testing.T, err error, known func(string) bool) *dsar.Error {
	t.Helper()
	var de *dsar.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *dsar.Error: it would be answered 500", err, err)
	}
	status := statusOf[de.Code]
	if status < 400 || status > 499 {
		t.Fatalf("error %q is answered %d, want a 4xx", de.Code, status)
	}
	if de.Code == dsar.EINVALID && len(de.Fields) == 0 {
		t.Fatalf("422 without naming a field: %v", de)
	}
	for k, why := range de.Fields {
		if !known(k) || why == "" {
			t.Fatalf("error names field %q (%q), which the request does not have", k, why)
		}
	}
	return de
}

// fuzzPNG is a small valid PNG.
func fuzzPNG(f *testing.F) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{200, 10, 10, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes()
}

// fuzzJPEG is a small valid JPEG.
func fuzzJPEG(f *testing.F) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes()
}

const fuzzPDF = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

// postContext is a gin context of a POST with body and content type.
func postContext(body []byte, contentType string) *gin.Context {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodPost, "/api/v1/requests", bytes.NewReader(body))
	if contentType != "" {
		c.Request.Header.Set("Content-Type", contentType)
	}
	return c
}

// FuzzSubmissionForm fuzzes every field of the intake form and the
// document: a submission is either refused with a 4xx naming only fields of
// the form, or every rule of the form holds for it.
func FuzzSubmissionForm(f *testing.F) {
	s := fuzzServer(f)
	pngDoc, jpegDoc := fuzzPNG(f), fuzzJPEG(f)
	f.Add("Ada", "Lovelace", "ada@example.org", "DE", "", "customer", "info", "Send me my data.", "c2FsdA==", pngDoc)
	f.Add("Grace", "Hopper", "grace@example.com", "us", "us-ca", "employee", "deletion", "Delete it all.", "x", jpegDoc)
	f.Add("Robert'); DROP TABLE requests;--", "<script>alert(1)</script>", "a@b.co", "FR", "FR-IDF", "other", "opt_out", "' OR 1=1 --", "x", []byte(fuzzPDF))
	f.Add("\xff\xfe", "Ada\r\nBcc: x@y.z", "Ada <ada@example.org>", "XX", "DE-BE", "robot", "everything", "\x00\x01", "", []byte("GIF89a"))
	f.Add(strings.Repeat("n", 101), " ", strings.Repeat("e", 250)+"@example.org", "DEU", "US-ZZ", "", "", strings.Repeat("d", 5001), "x", []byte{})
	f.Add("Zoë", "Ñúñez", "zoe@xn--bcher-kva.example", "BR", "BR-SP", "customer", "correction", "Corrija meu nome, por favor.", "x", append([]byte("\x89PNG\r\n\x1a\n"), 0, 0, 0, 13))
	f.Fuzz(func(t *testing.T, first, last, email, country, region, requestorType, requestType, description, captcha string, doc []byte) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for i, v := range []string{first, last, email, country, region, requestorType, requestType, description, captcha} {
			_ = w.WriteField(formFields[i], v)
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="identity_document"; filename="id.png"`)
		h.Set("Content-Type", "image/png")
		p, _ := w.CreatePart(h)
		_, _ = p.Write(doc)
		_ = w.Close()

		sub, vals, err := s.readSubmission(postContext(buf.Bytes(), w.FormDataContentType()), nil)
		if vals == nil {
			t.Fatal("no values to show the form again with")
		}
		if err != nil {
			checkClientError(t, err, knownField)
			return
		}
		checkValidSubmission(t, s, sub)
	})
}

// checkValidSubmission fails unless sub obeys every rule of the form.
func checkValidSubmission(t *testing.T, s *Server, sub submission) {
	t.Helper()
	if bad := validate(sub, false); len(bad) > 0 {
		t.Fatalf("accepted a submission that validate refuses: %v", bad)
	}
	for field, v := range map[string]string{"first_name": sub.FirstName, "last_name": sub.LastName, "email": sub.Email} {
		if v == "" || !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) || v != strings.TrimSpace(v) {
			t.Fatalf("accepted %s %q", field, v)
		}
	}
	if n := utf8.RuneCountInString(sub.Description); n == 0 || n > maxDescriptionLen || !utf8.ValidString(sub.Description) {
		t.Fatalf("accepted a description of %d characters", n)
	}
	if !knownCountry(sub.Country) || !sub.RequestType.Valid() || !sub.RequestorType.Valid() {
		t.Fatalf("accepted country %q, types %q %q", sub.Country, sub.RequestType, sub.RequestorType)
	}
	if sub.Captcha == "" {
		t.Fatal("accepted a submission without a captcha")
	}
	switch sub.DocumentType {
	case typePNG, typeJPEG, typePDF:
	default:
		t.Fatalf("accepted a document of type %q", sub.DocumentType)
	}
	if len(sub.Document) == 0 || int64(len(sub.Document)) > 64*s.Config.Intake.MaxUploadBytes {
		t.Fatalf("accepted a document of %d bytes", len(sub.Document))
	}
	if got := http.DetectContentType(sub.Document); got != sub.DocumentType {
		t.Fatalf("stored document sniffs as %q, recorded as %q", got, sub.DocumentType)
	}
	if len(sub.hash) != 64 {
		t.Fatalf("submission hash %q", sub.hash)
	}
}

// FuzzSubmissionBody fuzzes the raw body and content type of a submission:
// truncated and malformed multipart, wrong boundaries, other content types.
func FuzzSubmissionBody(f *testing.F) {
	s := fuzzServer(f)
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.SetBoundary("fuzzboundary")
	for i, v := range []string{"Ada", "Lovelace", "ada@example.org", "DE", "", "customer", "info", "Send me my data.", "x"} {
		_ = w.WriteField(formFields[i], v)
	}
	fw, _ := w.CreateFormFile("identity_document", "id.png")
	_, _ = fw.Write(fuzzPNG(f))
	_ = w.Close()
	whole := buf.Bytes()
	ct := w.FormDataContentType()
	f.Add(whole, ct)
	f.Add(whole[:len(whole)/2], ct)
	f.Add(whole, "multipart/form-data; boundary=other")
	f.Add(whole, "multipart/form-data")
	f.Add(whole, "multipart/mixed; boundary=fuzzboundary")
	f.Add([]byte(`{"first_name":"Ada"}`), "application/json")
	f.Add([]byte("first_name=Ada&email=a%40b.co"), "application/x-www-form-urlencoded")
	f.Add([]byte("--fuzzboundary\r\nContent-Disposition: form-data; name=\"identity_document\"; filename=\"a\"\r\n\r\n"), ct)
	f.Add([]byte(""), "")
	f.Add(bytes.Repeat([]byte("--fuzzboundary\r\n"), 100), ct)
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		sub, _, err := s.readSubmission(postContext(body, contentType), nil)
		if err != nil {
			checkClientError(t, err, knownField)
			return
		}
		checkValidSubmission(t, s, sub)
	})
}

// FuzzDocument fuzzes the upload sniffing: what is accepted is a JPEG, PNG
// or PDF by its content, images come back re-encoded and readable, and
// everything else is a 415 or 422 naming identity_document.
func FuzzDocument(f *testing.F) {
	f.Add(fuzzPNG(f))
	f.Add(fuzzJPEG(f))
	f.Add([]byte(fuzzPDF))
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	f.Add([]byte("<html><script>alert(1)</script></html>"))
	f.Add(append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)...))
	f.Add(append([]byte("\xff\xd8\xff\xe0"), []byte("%PDF-1.4 polyglot")...))
	f.Add(append([]byte(fuzzPDF), fuzzPNG(f)...))
	f.Add([]byte("MZ\x90\x00 not a document"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		out, ct, err := checkDocument(data)
		if err != nil {
			de := checkClientError(t, err, func(k string) bool { return k == "identity_document" })
			if de.Code != dsar.EINVALID && de.Code != dsar.EUNSUPPORTED {
				t.Fatalf("document refused with %s, want EINVALID or EUNSUPPORTED", de.Code)
			}
			return
		}
		if len(out) == 0 {
			t.Fatal("accepted an empty document")
		}
		if sniffed := http.DetectContentType(data); sniffed != ct {
			t.Fatalf("accepted as %q what sniffs as %q", ct, sniffed)
		}
		switch ct {
		case typePDF:
			if !bytes.Equal(out, data) {
				t.Fatal("a PDF was changed")
			}
		case typePNG, typeJPEG:
			if got := http.DetectContentType(out); got != ct {
				t.Fatalf("re-encoded %s sniffs as %s", ct, got)
			}
			if _, _, err := image.Decode(bytes.NewReader(out)); err != nil {
				t.Fatalf("re-encoded %s does not decode: %v", ct, err)
			}
		default:
			t.Fatalf("accepted type %q", ct)
		}
	})
}

// jsonBodies is one struct holding the fields of the API's JSON bodies, the
// way the handlers declare them.
type jsonBodies struct {
	Token         string              `json:"token"`
	Email         string              `json:"email"`
	Password      string              `json:"password"`
	Name          string              `json:"name"`
	Role          string              `json:"role"`
	Verified      *bool               `json:"verified"`
	Note          string              `json:"note"`
	DataSourceIDs []string            `json:"data_source_ids"`
	Days          int                 `json:"days"`
	Reasons       []dsar.RejectReason `json:"reasons"`
	Body          string              `json:"body"`
	OwnerIDs      []string            `json:"owner_ids"`
}

// jsonField reports whether name is a field of jsonBodies.
func jsonField(name string) bool {
	for _, f := range []string{"token", "email", "password", "name", "role", "verified", "note", "data_source_ids", "days", "reasons", "body", "owner_ids"} {
		if f == name {
			return true
		}
	}
	return false
}

// FuzzBindJSON fuzzes the API's JSON bodies: bindJSON accepts one JSON
// object of known fields, as application/json, within the size limit, and
// answers anything else with a 4xx naming only fields that exist.
func FuzzBindJSON(f *testing.F) {
	f.Add([]byte(`{"token":"abc"}`), "application/json")
	f.Add([]byte(`{"verified":true,"note":"ok"}`), "application/json; charset=utf-8")
	f.Add([]byte(`{"days":"ten"}`), "application/json")
	f.Add([]byte(`{"days":1e400}`), "application/json")
	f.Add([]byte(`{"reasons":["identity_unverified"],"note":"<b>x</b>"}`), "application/json")
	f.Add([]byte(`{"data_source_ids":[1,2]}`), "application/json")
	f.Add([]byte(`{"unknown":1}`), "application/json")
	f.Add([]byte(`{"token":"a"}{"token":"b"}`), "application/json")
	f.Add([]byte(`{"token":"a"}]`), "application/json")
	f.Add([]byte(`[]`), "application/json")
	f.Add([]byte(`"just a string"`), "application/json")
	f.Add([]byte(`{"note":"\ud800"}`), "application/json")
	f.Add([]byte("{\"note\":\"\xff\"}"), "application/json")
	f.Add([]byte(`{"token":"a"}`), "text/plain")
	f.Add([]byte(`{"token":"a"}`), "")
	f.Add([]byte(``), "application/json")
	f.Add([]byte(`{"body":"`+strings.Repeat("x", 2000)+`"}`), "application/json")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		c := postContext(body, contentType)
		var v jsonBodies
		err := bindJSON(c, &v)
		if err != nil {
			de := checkClientError(t, err, func(k string) bool { return k != "" })
			for k := range de.Fields {
				// An unknown field is named as sent; every other error
				// names a field of the body.
				if unknown := de.Message == "unknown field"; unknown == jsonField(k) {
					t.Fatalf("%s: field %q", de.Message, k)
				}
			}
			return
		}
		if c.ContentType() != "application/json" {
			t.Fatalf("accepted content type %q", contentType)
		}
		if len(body) > maxJSONBody {
			t.Fatalf("accepted a body of %d bytes", len(body))
		}
		if !json.Valid(body) {
			t.Fatalf("accepted a body that is not one JSON value: %q", body)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil && !bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
			t.Fatalf("accepted a body that is not an object: %q", body)
		}
	})
}
