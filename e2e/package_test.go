package e2e_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar/mail/resendtest"
)

// TestAccessPackageEndToEnd is an access request tried as its people would:
// two source owners attach exports (one of tens of MiB), a manager removes
// the file that holds a third party's data and approves the package, the
// request completes, the requester downloads the zip from the portal and
// finds the manifest's hashes true, and once the package expires the
// download is refused and nothing of the exports is left in the database.
func TestAccessPackageEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the package to expire")
	}
	t.Parallel()
	const ttl = 40 * time.Second
	rs := resendtest.New(t, "re_test_key")
	e := start(t, map[string]any{"email.provider": "resend", "email.resend.api_key": "re_test_key", "email.resend.base_url": rs.URL,
		"fulfilment.package_ttl": ttl.String()})
	e.resend = rs
	ctx := context.Background()
	c := e.crew()
	const pw = "correct horse battery staple"
	for _, u := range []struct{ email, name, role string }{
		{"tess@example.com", "Tess Tickets", "source_owner"}, {"max@example.com", "Max Manager", "manager"}} {
		if _, err := e.app.CreateUser(ctx, u.email, u.name, u.role, pw); err != nil {
			t.Fatal(err)
		}
	}
	login := func(email string) (token, id string) {
		var s struct {
			Token string
			User  struct{ ID string }
		}
		e.want(e.postJSON("/api/v1/sessions", "", map[string]string{"email": email, "password": pw}), http.StatusCreated, "login").json(t, &s)
		return s.Token, s.User.ID
	}
	tess, tessID := login("tess@example.com")
	manager, _ := login("max@example.com")
	var support struct{ ID string }
	e.want(e.postJSON("/api/v1/data-sources", c.owner, map[string]any{"name": "Support desk", "owner_ids": []string{tessID}}),
		http.StatusCreated, "second data source").json(t, &support)

	p := person{"Petra", "Packwood", "petra.packwood@example.org", "Every record you hold about me, please."}
	id := e.submit(validForm(p, e.captcha(), photo(t)))
	e.want(e.postJSON("/api/v1/email-verifications", "", map[string]string{"token": e.mailToken(p.email, "confirm your email")}),
		http.StatusOK, "verify")
	path := "/api/v1/requests/" + id
	e.act(path+"/identity-verification", c.owner, map[string]any{"verified": true})
	e.act(path+"/assignments", c.owner, map[string]any{"data_source_ids": []string{c.source, support.ID}})
	e.eventually("the source owners see their tasks", func() bool {
		return e.get(path, c.sam).status == http.StatusOK && e.get(path, tess).status == http.StatusOK
	})

	// The exports: a small CSV and a large JSON-lines file from billing, a
	// ticket log from support that also holds another customer's messages.
	const (
		markBilling = "invoice-marker-QX81"
		markBig     = "order-line-marker-ZL42"
		markOther   = "other-customer-marker-VW09"
	)
	small := []byte("invoice,amount,email\n" + markBilling + ",19.99," + p.email + "\n")
	var big bytes.Buffer
	for i := 0; big.Len() < 24<<20; i++ {
		fmt.Fprintf(&big, `{"line":%d,"email":%q,"sku":"%s-%08x"}`+"\n", i, p.email, markBig, i*2654435761)
	}
	tickets := []byte("ticket,from,text\n1," + p.email + ",where is my order\n2,someone.else@example.org," + markOther + "\n")
	var up struct{ ID, Name, SHA256 string }
	e.want(e.upload(path+"/tasks/"+c.source+"/files", c.sam, "invoices.csv", small), http.StatusCreated, "upload the invoices")
	e.want(e.upload(path+"/tasks/"+c.source+"/files", c.sam, "orders.jsonl", big.Bytes()), http.StatusCreated, "upload the orders").json(t, &up)
	if sum := sha256.Sum256(big.Bytes()); up.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("the upload's hash %s is not the file's", up.SHA256)
	}
	var third struct{ ID string }
	e.want(e.upload(path+"/tasks/"+support.ID+"/files", tess, "tickets.csv", tickets), http.StatusCreated, "upload the tickets").json(t, &third)
	e.want(e.upload(path+"/tasks/"+support.ID+"/files", c.sam, "x.csv", small), http.StatusNotFound, "upload to another owner's task")
	e.act(path+"/tasks/"+c.source+"/completion", c.sam, map[string]any{"outcome": "data_provided", "record_count": 1200})
	e.want(e.upload(path+"/tasks/"+c.source+"/files", c.sam, "late.csv", small), http.StatusConflict, "upload to a completed task")
	e.act(path+"/tasks/"+support.ID+"/completion", tess, map[string]any{"outcome": "data_provided", "record_count": 2})

	// The manager reviews: three files, the tickets downloaded and found to
	// hold someone else's data, removed with the reason.
	type file struct {
		ID, Name, URL string
		Included      bool
		RemovedReason *string `json:"removed_reason"`
	}
	var pkg struct {
		Status string
		SHA256 string
		Files  []file
	}
	isThird := func(f file) bool { return f.ID == third.ID }
	e.eventually("the package is built", func() bool {
		a := e.get(path+"/package", manager)
		if a.status == http.StatusOK {
			a.json(t, &pkg)
		}
		return pkg.Status == "ready"
	})
	if len(pkg.Files) != 3 || !pkg.Files[0].Included || !pkg.Files[2].Included {
		t.Fatalf("the package for review: %+v", pkg)
	}
	i := slices.IndexFunc(pkg.Files, isThird)
	got := e.want(e.get(pkg.Files[i].URL, manager), http.StatusOK, "the manager downloads the tickets")
	if !bytes.Equal(got.body, tickets) || !strings.Contains(got.header.Get("Content-Disposition"), "tickets.csv") {
		t.Fatalf("downloaded %q as %q", got.body, got.header.Get("Content-Disposition"))
	}
	e.want(e.postJSON(path+"/package/approval", manager, map[string]any{"removed_file_ids": []string{third.ID}}),
		http.StatusUnprocessableEntity, "removal without a reason")
	e.want(e.postJSON(path+"/completion", c.owner, map[string]any{}), http.StatusConflict, "completion before approval")
	e.act(path+"/package/approval", manager, map[string]any{"removed_file_ids": []string{third.ID}, "note": "ticket 2 is another customer's"})
	e.eventually("the package is approved (built again without the tickets)", func() bool { // a busy worker answers 202 first
		e.want(e.get(path+"/package", manager), http.StatusOK, "the approved package").json(t, &pkg)
		return pkg.Status == "approved"
	})
	i = slices.IndexFunc(pkg.Files, isThird)
	if pkg.Status != "approved" || pkg.Files[i].Included || pkg.Files[i].RemovedReason == nil {
		t.Fatalf("after approval: %+v", pkg)
	}
	e.act(path+"/completion", c.owner, map[string]any{})
	completedAt := time.Now()
	e.eventually("the exports are erased with the request's data", func() bool {
		return e.get(pkg.Files[0].URL, manager).status == http.StatusGone
	})

	// The requester signs in with an emailed link and downloads the zip.
	e.want(e.postJSON("/api/v1/portal/sign-in-links", "", map[string]string{"email": p.email}), http.StatusAccepted, "ask for a link")
	var session struct{ Token string }
	e.want(e.postJSON("/api/v1/portal/sign-ins", "", map[string]string{"token": e.mailToken(p.email, "sign-in link")}),
		http.StatusCreated, "sign in").json(t, &session)
	var view struct {
		Package *struct {
			Available bool
			Size      int64
			ExpiresAt time.Time `json:"expires_at"`
			URL       string
		}
	}
	e.eventually("the portal offers the download", func() bool {
		e.want(e.get("/api/v1/portal/requests/"+id, session.Token), http.StatusOK, "the portal's request").json(t, &view)
		return view.Package != nil && view.Package.Available
	})
	zipped := e.want(e.get(view.Package.URL, session.Token), http.StatusOK, "download the package")
	if int64(len(zipped.body)) != view.Package.Size || zipped.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("downloaded %d bytes of %s; the portal said %d", len(zipped.body), zipped.header.Get("Content-Type"), view.Package.Size)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped.body), int64(len(zipped.body)))
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string][]byte{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		entries[f.Name] = b
	}
	var manifest struct {
		Sources []struct {
			Name        string
			Outcome     string
			RecordCount *int64 `json:"record_count"`
			Files       []struct {
				Name, Path, SHA256 string
				Size               int64
			}
		}
	}
	if err := json.Unmarshal(entries["data.json"], &manifest); err != nil {
		t.Fatalf("data.json: %v", err)
	}
	var names []string
	for _, s := range manifest.Sources {
		for _, f := range s.Files {
			names = append(names, f.Name)
			sum := sha256.Sum256(entries[f.Path])
			if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(entries[f.Path])) != f.Size {
				t.Errorf("%s in the zip does not match the manifest's size and hash", f.Path)
			}
		}
	}
	if !slices.Equal(names, []string{"invoices.csv", "orders.jsonl"}) || len(manifest.Sources) != 2 ||
		manifest.Sources[1].Name != "Support desk" || *manifest.Sources[0].RecordCount != 1200 {
		t.Errorf("the manifest: %+v", manifest)
	}
	if !strings.Contains(string(entries["index.html"]), "orders.jsonl") || bytes.Contains(zipped.body, []byte(markOther)) {
		t.Errorf("index.html lacks the files, or the package holds the removed one")
	}
	e.eventually("the completion mail says the data is ready", func() bool {
		return slices.ContainsFunc(rs.Emails(), func(m resendtest.Email) bool {
			return slices.Contains(m.To, p.email) && strings.Contains(m.Text, "ready to download")
		})
	})

	// The whole database holds none of the exports, while the package is
	// kept and after it expired.
	e.settled()
	checkDump := func(when string) {
		dump := strings.ToLower(dumpDatabase(t, e))
		for _, s := range []string{markBilling, markBig, markOther, p.email, "orders.jsonl", "tickets.csv"} {
			// As text, and as the hex a dump prints bytea columns in.
			if strings.Contains(dump, strings.ToLower(s)) || strings.Contains(dump, hex.EncodeToString([]byte(s))) {
				t.Errorf("%s, the database holds %q", when, s)
			}
		}
	}
	checkDump("while the package is kept")
	time.Sleep(time.Until(completedAt.Add(ttl)))
	deadline := time.Now().Add(time.Minute)
	for e.get(view.Package.URL, session.Token).status != http.StatusGone {
		if time.Now().After(deadline) {
			t.Fatal("the download still answers a minute after the package expired")
		}
		time.Sleep(250 * time.Millisecond)
	}
	e.want(e.get("/api/v1/portal/requests/"+id, session.Token), http.StatusOK, "the portal's request").json(t, &view)
	if view.Package == nil || view.Package.Available {
		t.Errorf("after expiry the portal says %+v", view.Package)
	}
	// The workflow's timer erases it (a busy worker may take a moment).
	deadline = time.Now().Add(time.Minute)
	for {
		var chunks int
		if err := e.app.DB.Get(&chunks, `SELECT count(*) FROM package_chunks c JOIN packages p ON p.id = c.package_id WHERE p.request_id = $1`, id); err != nil {
			t.Fatal(err)
		}
		if chunks == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d chunks of the expired package are left a minute after its date", chunks)
		}
		time.Sleep(250 * time.Millisecond)
	}
	checkDump("after the package expired")
	var downloads int
	if err := e.app.DB.Get(&downloads, `SELECT count(*) FROM audit_events WHERE request_id = $1 AND action = 'package.downloaded'`, id); err != nil || downloads != 1 {
		t.Errorf("%d package downloads audited, want 1 (%v)", downloads, err)
	}
}
