package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
)

// crew is the staff of a lifecycle: an org owner and a source owner with
// a data source of theirs, signed in.
type crew struct {
	owner, sam string // session tokens
	source     string // the data source's id
}

// crew creates and signs in the staff of a lifecycle.
func (e *env) crew() crew {
	t := e.t
	t.Helper()
	ctx := context.Background()
	const pw = "correct horse battery staple"
	if _, err := e.app.CreateUser(ctx, "owner@example.com", "Olive Owner", "org_owner", pw); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.CreateUser(ctx, "sam@example.com", "Sam Source", "source_owner", pw); err != nil {
		t.Fatal(err)
	}
	login := func(email string) (string, string) {
		var s struct {
			Token string
			User  struct{ ID string }
		}
		e.want(e.postJSON("/api/v1/sessions", "", map[string]string{"email": email, "password": pw}), http.StatusCreated, "login").json(t, &s)
		return s.Token, s.User.ID
	}
	var c crew
	c.owner, _ = login("owner@example.com")
	sam, samID := login("sam@example.com")
	c.sam = sam
	var ds struct{ ID string }
	e.want(e.postJSON("/api/v1/data-sources", c.owner, map[string]any{"name": "Billing", "description": "invoices",
		"owner_ids": []string{samID}}), http.StatusCreated, "data source").json(t, &ds)
	c.source = ds.ID
	return c
}

// complete takes a request of p from submission through the API to the
// answer of its completion, as its people would, and returns its id; then
// runs after, if given.
func (e *env) complete(c crew, p person, after func()) string {
	e.t.Helper()
	id := e.submit(validForm(p, e.captcha(), photo(e.t)))
	tok := e.mailToken(p.email, "confirm your email")
	e.want(e.postJSON("/api/v1/email-verifications", "", map[string]string{"token": tok}), http.StatusOK, "verify")
	path := "/api/v1/requests/" + id
	e.act(path+"/identity-verification", c.owner, map[string]any{"verified": true, "note": "passport matches"})
	e.act(path+"/assignments", c.owner, map[string]any{"data_source_ids": []string{c.source}})
	e.eventually("the source owner sees the task", func() bool { return e.get(path, c.sam).status == http.StatusOK })
	// The source owner attaches the export (holding the requester's data)
	// and completes the task; the org owner approves the access package and
	// completes the request.
	export := fmt.Sprintf("first_name,last_name,email,notes\n%s,%s,%s,%s\n", p.first, p.last, p.email, p.description)
	e.want(e.upload(path+"/tasks/"+c.source+"/files", c.sam, "export-"+p.last+".csv", []byte(export)), http.StatusCreated, "upload the export")
	e.act(path+"/tasks/"+c.source+"/completion", c.sam, map[string]any{"note": "exported", "outcome": "data_provided", "record_count": 1})
	e.act(path+"/package/approval", c.owner, map[string]any{}) // 409 while the package is being built: act retries
	e.act(path+"/completion", c.owner, map[string]any{"note": "sent the export"})
	if after != nil {
		after()
	}
	return id
}

// upload posts a file as multipart/form-data (field "file") to path.
func (e *env) upload(path, token, name string, data []byte) answer {
	e.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, err := w.CreateFormFile("file", name)
	if err != nil {
		e.t.Fatal(err)
	}
	part.Write(data)
	w.Close()
	return e.do(call{method: http.MethodPost, path: path, bearer: token, ctype: w.FormDataContentType(), body: body.Bytes()})
}
