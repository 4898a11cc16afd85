package e2e_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	altcha "github.com/altcha-org/altcha-lib-go"
)

// hostile is one attack and the answer the contract documents for it.
type hostile struct {
	name   string
	call   call
	status int
	fields []string       // the error must name these fields (if any)
	stored map[string]int // rows the refusal itself adds (audit of a failed login, the login backoff's counts)
}

const (
	sqlInjection  = "x' OR '1'='1'; DROP TABLE requests; --"
	htmlInjection = `<script>alert(document.cookie)</script><img src=x onerror=alert(1)>`
)

// world is what the hostile cases act on: two requesters with requests,
// staff of two roles and a data source.
type world struct {
	owner, sourceOwner   string // staff session tokens
	portalX              string // requester X's portal token
	requestX, requestY   string // X's and Y's requests
	usedCaptcha          string // redeemed by X's request
	usedVerification     string // X's verification token, used
	usedPortalInvitation string // the token X opened the account with
	dataSource           string
}

// setUp builds the world through the API, as its users would.
func setUp(e *env) world {
	t := e.t
	ctx := context.Background()
	var w world
	const pw = "correct horse battery staple"
	if _, err := e.app.CreateUser(ctx, "owner@example.com", "Olive Owner", "org_owner", pw); err != nil {
		t.Fatal(err)
	}
	login := func(email string) string {
		var s struct{ Token string }
		e.want(e.postJSON("/api/v1/sessions", "", map[string]string{"email": email, "password": pw}), http.StatusCreated, "staff login").json(t, &s)
		return s.Token
	}
	w.owner = login("owner@example.com")
	var u struct{ ID string }
	e.want(e.postJSON("/api/v1/users", w.owner, map[string]string{"email": "sam@example.com", "name": "Sam Source",
		"role": "source_owner", "password": pw}), http.StatusCreated, "create source owner").json(t, &u)
	w.sourceOwner = login("sam@example.com")
	var ds struct{ ID string }
	e.want(e.postJSON("/api/v1/data-sources", w.owner, map[string]any{"name": "CRM", "description": "customers",
		"owner_ids": []string{u.ID}}), http.StatusCreated, "create data source").json(t, &ds)
	w.dataSource = ds.ID

	doc := photo(t)
	w.usedCaptcha = e.captcha()
	w.requestX = e.submit(validForm(person{"Xavier", "Example", "xavier@example.org", "All my data, please."}, w.usedCaptcha, doc))
	w.requestY = e.submit(validForm(person{"Yolanda", "Other", "yolanda@example.org", "What do you hold?"}, e.captcha(), doc))
	w.usedVerification = e.mailToken("xavier@example.org", "confirm your email")
	e.want(e.postJSON("/api/v1/email-verifications", "", map[string]string{"token": w.usedVerification}), http.StatusOK, "verify X")
	w.usedPortalInvitation = e.mailToken("xavier@example.org", "follow your privacy request")
	e.want(e.postJSON("/api/v1/portal/accounts", "", map[string]string{"token": w.usedPortalInvitation, "password": pw}),
		http.StatusCreated, "X's portal account")
	var s struct{ Token string }
	e.want(e.postJSON("/api/v1/portal/sessions", "", map[string]string{"email": "xavier@example.org", "password": pw}),
		http.StatusCreated, "X's portal login").json(t, &s)
	w.portalX = s.Token
	return w
}

// multipartCall is a submission whose body is raw, with content type ct.
func multipartCall(body []byte, ct string) call {
	return call{method: http.MethodPost, path: "/api/v1/requests", ctype: ct, body: body}
}

func TestHostileInputIsRefusedAndStoresNothing(t *testing.T) {
	e := start(t, map[string]any{"intake.max_upload_bytes": 64 << 10})
	w := setUp(e)
	doc := photo(t)
	good := validForm(person{"Mallory", "Attacker", "mallory@example.org", "Hello."}, e.captcha(), doc)
	goodBody, goodCT := good.encode()

	// A captcha signed with another key, and one with our key but expired.
	foreign, _ := altcha.CreateChallenge(altcha.ChallengeOptions{HMACKey: "not-our-key", MaxNumber: 500,
		Expires: func() *time.Time { x := time.Now().Add(time.Hour); return &x }()})
	past := time.Now().Add(-time.Minute)
	expired, _ := altcha.CreateChallenge(altcha.ChallengeOptions{HMACKey: hex.EncodeToString(e.app.Keys.Derive("dsar altcha hmac v1")),
		MaxNumber: 500, Expires: &past})
	// An idempotency key used once, for a request that was then refused:
	// a retry with a changed body must not slip through.
	idem := "hostile-" + time.Now().Format("150405.000")
	e.want(e.do(submitCall(validForm(person{"Ida", "Idem", "ida@example.org", "Once."}, e.captcha(), doc), idem)), http.StatusAccepted, "idempotent submission")

	id := "/api/v1/requests/" + w.requestX
	big := `{"note":"` + strings.Repeat("A", 2<<20) + `"}`
	cases := []hostile{
		// Uploads.
		{name: "upload over the limit", call: submitCall(good.withFile("id.png", "image/png", append(append([]byte{}, doc...), make([]byte, 64<<10)...)), ""),
			status: 413, fields: []string{"identity_document"}},
		{name: "body far over the limit", call: submitCall(good.withFile("id.pdf", "application/pdf", bytes.Repeat([]byte("%PDF"), 1<<20)), ""), status: 413},
		{name: "body cut off in the text fields", call: multipartCall(goodBody[:len(goodBody)/3], goodCT), status: 400},
		{name: "body cut off in the upload", call: multipartCall(goodBody[:len(goodBody)-len(doc)/2], goodCT), status: 400},
		{name: "truncated PNG", call: submitCall(good.withFile("id.png", "image/png", doc[:len(doc)/2]), ""), status: 422, fields: []string{"identity_document"}},
		{name: "HTML polyglot named PDF", call: submitCall(good.withFile("id.pdf", "application/pdf", []byte("<html><body>%PDF-1.4<script>alert(1)</script>")), ""),
			status: 415, fields: []string{"identity_document"}},
		{name: "executable renamed to JPEG", call: submitCall(good.withFile("id.jpg", "image/jpeg", append([]byte("MZ\x90\x00\x03\x00\x00\x00"), make([]byte, 512)...)), ""),
			status: 415, fields: []string{"identity_document"}},
		{name: "SVG with script as PNG", call: submitCall(good.withFile("id.png", "image/png", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)), ""),
			status: 415, fields: []string{"identity_document"}},
		{name: "ZIP renamed to PDF", call: submitCall(good.withFile("id.pdf", "application/pdf", append([]byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), make([]byte, 100)...)), ""),
			status: 415, fields: []string{"identity_document"}},
		{name: "PNG header claiming a billion pixels", call: submitCall(good.withFile("id.png", "image/png", hugePNG()), ""),
			status: 422, fields: []string{"identity_document"}},
		// The captcha is checked before the upload is read: a wrong one
		// with a decompression bomb or an oversize file is refused for the
		// captcha, the file unread.
		{name: "wrong captcha with a decompression bomb", call: submitCall(good.with("captcha", "bm90IGEgc29sdXRpb24=").withFile("id.png", "image/png", hugePNG()), ""),
			status: 422, fields: []string{"captcha"}},
		{name: "wrong captcha with an upload over the limit", call: submitCall(good.with("captcha", sqlInjection).withFile("id.pdf", "application/pdf", bytes.Repeat([]byte("%PDF"), 1<<20)), ""),
			status: 422, fields: []string{"captcha"}},
		// Injection into every field that has a form.
		{name: "SQL in email", call: submitCall(good.with("email", "x@example.org"+sqlInjection), ""), status: 422, fields: []string{"email"}},
		{name: "HTML in email", call: submitCall(good.with("email", htmlInjection+"@example.org"), ""), status: 422, fields: []string{"email"}},
		{name: "SQL in country", call: submitCall(good.with("country", "DE"+sqlInjection), ""), status: 422, fields: []string{"country"}},
		{name: "HTML in region", call: submitCall(good.with("region", "DE-"+htmlInjection), ""), status: 422, fields: []string{"region"}},
		{name: "SQL in request type", call: submitCall(good.with("request_type", "info"+sqlInjection), ""), status: 422, fields: []string{"request_type"}},
		{name: "HTML in requestor type", call: submitCall(good.with("requestor_type", htmlInjection), ""), status: 422, fields: []string{"requestor_type"}},
		{name: "SQL in captcha", call: submitCall(good.with("captcha", sqlInjection), ""), status: 422, fields: []string{"captcha"}},
		{name: "mail header injection in first name", call: submitCall(good.with("first_name", "Mal\r\nBcc: all@example.org"), ""), status: 422, fields: []string{"first_name"}},
		{name: "NUL byte in last name", call: submitCall(good.with("last_name", "Att\x00acker"), ""), status: 422, fields: []string{"last_name"}},
		{name: "invalid UTF-8 in first name", call: submitCall(good.with("first_name", "Mal\xff\xfelory"), ""), status: 422, fields: []string{"first_name"}},
		{name: "invalid UTF-8 in description", call: submitCall(good.with("description", "Hello \xc3\x28 world"), ""), status: 422, fields: []string{"description"}},
		{name: "oversize description of HTML", call: submitCall(good.with("description", strings.Repeat(htmlInjection, 100)), ""), status: 422, fields: []string{"description"}},
		// Wrong content types.
		{name: "submission as JSON", call: jsonCall(http.MethodPost, "/api/v1/requests", "", map[string]string{"first_name": "Mal"}), status: 415},
		{name: "submission url-encoded", call: call{method: http.MethodPost, path: "/api/v1/requests", ctype: "application/x-www-form-urlencoded",
			body: []byte("first_name=Mal&email=m%40example.org")}, status: 415},
		{name: "submission as multipart without a boundary", call: multipartCall(goodBody, "multipart/form-data"), status: 400},
		{name: "verification as text", call: call{method: http.MethodPost, path: "/api/v1/email-verifications", ctype: "text/plain",
			body: []byte(`{"token":"` + w.usedVerification + `"}`)}, status: 415},
		{name: "staff action without a content type", call: call{method: http.MethodPost, path: id + "/extension", bearer: w.owner,
			body: []byte(`{"days":10,"reason":"x"}`)}, status: 415},
		// Replays.
		{name: "replayed captcha", call: submitCall(good.with("captcha", w.usedCaptcha), ""), status: 422, fields: []string{"captcha"}},
		{name: "captcha signed with another key", call: submitCall(good.with("captcha", solve(t, foreign.Algorithm, foreign.Challenge, foreign.Salt, foreign.Signature, 500)), ""),
			status: 422, fields: []string{"captcha"}},
		{name: "expired captcha", call: submitCall(good.with("captcha", solve(t, expired.Algorithm, expired.Challenge, expired.Salt, expired.Signature, 500)), ""),
			status: 422, fields: []string{"captcha"}},
		{name: "idempotency key with another body", call: submitCall(good, idem), status: 422, fields: []string{"idempotency_key"}},
		{name: "idempotency key too long", call: submitCall(good, strings.Repeat("k", 256)), status: 422, fields: []string{"idempotency_key"}},
		{name: "replayed verification token", call: jsonCall(http.MethodPost, "/api/v1/email-verifications", "", map[string]string{"token": w.usedVerification}), status: 410},
		{name: "replayed portal invitation", call: jsonCall(http.MethodPost, "/api/v1/portal/accounts", "", map[string]string{"token": w.usedPortalInvitation,
			"password": "another long password"}), status: 410},
		{name: "SQL as a verification token", call: jsonCall(http.MethodPost, "/api/v1/email-verifications", "", map[string]string{"token": sqlInjection}), status: 404},
		{name: "verification token of the wrong type", call: jsonCall(http.MethodPost, "/api/v1/email-verifications", "", `{"token":12345}`), status: 422, fields: []string{"token"}},
		// Bodies.
		{name: "huge JSON", call: jsonCall(http.MethodPost, id+"/completion", w.owner, big), status: 413},
		{name: "deeply nested JSON", call: jsonCall(http.MethodPost, id+"/completion", w.owner, `{"note":`+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+`}`), status: 400},
		{name: "two JSON values", call: jsonCall(http.MethodPost, id+"/completion", w.owner, `{"note":"a"}{"note":"b"}`), status: 400},
		{name: "unknown field", call: jsonCall(http.MethodPost, id+"/extension", w.owner, `{"days":10,"reason":"x","admin":true}`), status: 422, fields: []string{"admin"}},
		{name: "extension days as text", call: jsonCall(http.MethodPost, id+"/extension", w.owner, `{"days":"10; DROP TABLE requests","reason":"x"}`), status: 422, fields: []string{"days"}},
		{name: "SQL in a queue filter", call: call{method: http.MethodGet, path: "/api/v1/requests?status=" + url.QueryEscape(sqlInjection), bearer: w.owner}, status: 422, fields: []string{"status"}},
		{name: "SQL in the queue cursor", call: call{method: http.MethodGet, path: "/api/v1/requests?cursor=" + url.QueryEscape(sqlInjection), bearer: w.owner}, status: 422, fields: []string{"cursor"}},
		{name: "SQL in a request id", call: call{method: http.MethodGet, path: "/api/v1/requests/" + url.PathEscape(sqlInjection), bearer: w.owner}, status: 404},
		{name: "HTML as a staff user's role", call: jsonCall(http.MethodPost, "/api/v1/users", w.owner, map[string]string{"email": "eve@example.com", "name": "Eve",
			"role": htmlInjection, "password": "a long enough password"}), status: 422, fields: []string{"role"}},
		// Who may see what.
		{name: "no session on a staff route", call: call{method: http.MethodGet, path: id}, status: 401},
		{name: "forged staff token", call: call{method: http.MethodGet, path: id, bearer: strings.Repeat("A", 43)}, status: 401},
		{name: "portal token on a staff route", call: call{method: http.MethodGet, path: id, bearer: w.portalX}, status: 401},
		{name: "staff token on a portal route", call: call{method: http.MethodGet, path: "/api/v1/portal/requests", bearer: w.owner}, status: 401},
		{name: "source owner reads a request without their task", call: call{method: http.MethodGet, path: id, bearer: w.sourceOwner}, status: 404},
		{name: "source owner creates a user", call: jsonCall(http.MethodPost, "/api/v1/users", w.sourceOwner, map[string]string{"email": "eve@example.com",
			"name": "Eve", "role": "org_owner", "password": "a long enough password"}), status: 403},
		{name: "source owner rejects a request", call: jsonCall(http.MethodPost, id+"/rejection", w.sourceOwner, map[string]any{"reasons": []string{"other"}, "note": "x"}), status: 403},
		{name: "requester reads another's messages", call: call{method: http.MethodGet, path: "/api/v1/portal/requests/" + w.requestY + "/messages", bearer: w.portalX}, status: 404},
		{name: "requester writes on another's request", call: jsonCall(http.MethodPost, "/api/v1/portal/requests/"+w.requestY+"/messages", w.portalX,
			map[string]string{"body": "hello"}), status: 404},
		{name: "staff login with SQL", call: jsonCall(http.MethodPost, "/api/v1/sessions", "", map[string]string{"email": sqlInjection, "password": sqlInjection}),
			status: 401, stored: map[string]int{"audit_events": 1, "login_failures": 2, "audit_login_failures": 1}}, // the account's and the network's backoff and a failure count, under keyed hashes
		{name: "staff login with a wrong password", call: jsonCall(http.MethodPost, "/api/v1/sessions", "", map[string]string{"email": "owner@example.com", "password": "guess"}),
			status: 401, stored: map[string]int{"audit_events": 1, "login_failures": 1, "audit_login_failures": 1}}, // the network's (the account's is there since the login)
		{name: "portal login with a wrong password", call: jsonCall(http.MethodPost, "/api/v1/portal/sessions", "", map[string]string{"email": "xavier@example.org", "password": "guess"}),
			status: 401, stored: map[string]int{"audit_events": -1, "login_failures": 1}},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d hostile cases", len(cases))
	}
	baseline := e.settled()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.rows()
			a := e.do(tc.call)
			if a.status != tc.status {
				t.Errorf("status %d, want %d: %.300s", a.status, tc.status, a.body)
			}
			if ct := a.header.Get("Content-Type"); a.status >= 400 && !strings.HasPrefix(ct, "application/json") {
				t.Errorf("error answered as %q", ct)
			} else if a.status >= 400 {
				var eb errorBody
				a.json(t, &eb)
				if eb.Error.Code == "" || eb.Error.Message == "" {
					t.Errorf("error without code or message: %s", a.body)
				}
				for _, f := range tc.fields {
					if eb.Error.Fields[f] == "" {
						t.Errorf("the answer does not name %s: %s", f, a.body)
					}
				}
			}
			after := e.rows()
			want := maps.Clone(before)
			for k, n := range tc.stored {
				if n > 0 {
					want[k] += n
				} else {
					want[k] = after[k] // may or may not be audited
				}
			}
			if !maps.Equal(after, want) {
				t.Errorf("rows changed: %v", diff(before, after))
			}
		})
	}
	// Nothing arrives late either (a signal sent, a workflow started).
	final := e.settled()
	for _, tc := range cases {
		for k, n := range tc.stored {
			baseline[k] += max(n, 0)
		}
	}
	final["audit_events"] = baseline["audit_events"] // failed portal logins may be audited
	if !maps.Equal(final, baseline) {
		t.Errorf("rows changed after the hostile cases settled: %v", diff(baseline, final))
	}
}

// diff lists the tables whose row counts differ.
func diff(before, after map[string]int) map[string]string {
	out := map[string]string{}
	for k := range maps.Keys(after) {
		if before[k] != after[k] {
			out[k] = strconv.Itoa(before[k]) + " → " + strconv.Itoa(after[k])
		}
	}
	return out
}

// hugePNG is a PNG whose header claims 40000×40000 pixels and which holds
// no image data: a decompression bomb's opening.
func hugePNG() []byte {
	ihdr := []byte{0, 0, 0x9c, 0x40, 0, 0, 0x9c, 0x40, 8, 6, 0, 0, 0}
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	writeChunk(&b, "IHDR", ihdr)
	writeChunk(&b, "IEND", nil)
	return b.Bytes()
}

// writeChunk appends one PNG chunk.
func writeChunk(b *bytes.Buffer, kind string, data []byte) {
	_ = binary.Write(b, binary.BigEndian, uint32(len(data)))
	b.WriteString(kind)
	b.Write(data)
	_ = binary.Write(b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(kind), data...)))
}

// Free text may hold anything printable, SQL and HTML included: it is
// accepted, kept as typed (sealed), answered back verbatim as JSON, and
// escaped on pages. Only fields with a form of their own refuse it (above).
func TestInjectionInFreeTextIsKeptAsText(t *testing.T) {
	e := start(t, nil)
	w := setUp(e)
	p := person{first: sqlInjection, last: htmlInjection, email: "bobby@example.org",
		description: "Robert'); DROP TABLE requests;-- " + htmlInjection + " {{.Company}} ${7*7}"}
	before := e.settled()
	id := e.submit(validForm(p, e.captcha(), photo(t)))
	var got struct {
		FirstName   string `json:"first_name"`
		LastName    string `json:"last_name"`
		Description string `json:"description"`
	}
	e.want(e.get("/api/v1/requests/"+id, w.owner), http.StatusOK, "request detail").json(t, &got)
	if got.FirstName != p.first || got.LastName != p.last || got.Description != p.description {
		t.Errorf("answered back %+v, want what was typed", got)
	}
	after := e.settled()
	if after["requests"] != before["requests"]+1 || len(after) != len(before) {
		t.Errorf("tables after the submission: %v (before %v)", after, before)
	}
	// The portal shows a message with HTML as text.
	e.want(e.postJSON("/api/v1/portal/requests/"+w.requestX+"/messages", w.portalX, map[string]string{"body": htmlInjection}),
		http.StatusCreated, "portal message")
	page := e.do(call{method: http.MethodGet, path: "/portal/requests/" + w.requestX, headers: map[string]string{"Cookie": portalCookie(e, w.portalX)}})
	if page.status != http.StatusOK {
		t.Fatalf("portal page = %d", page.status)
	}
	if strings.Contains(string(page.body), "<script>alert") || !strings.Contains(string(page.body), "&lt;script&gt;alert") {
		t.Error("the portal page does not escape a message's HTML")
	}
}

// portalCookie is the Cookie header of a portal session token, under the
// cookie name the portal login sets.
func portalCookie(e *env, token string) string {
	e.t.Helper()
	a := e.postJSON("/api/v1/portal/sessions", "", map[string]string{"email": "xavier@example.org", "password": "correct horse battery staple"})
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		return c.Name + "=" + token
	}
	e.t.Fatal("the portal login sets no cookie")
	return ""
}
