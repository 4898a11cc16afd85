package server

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/workflows"
)

// TestTemporalUIShowsDecodedWorkflows: as after `make run`, the Temporal
// dev server's own web UI, pointed at the service's codec endpoint, with no
// setting changed and nobody signed in, shows a request's workflow in the
// list with its summary, and its page with the input decoded.
func TestTemporalUIShowsDecodedWorkflows(t *testing.T) {
	// The service's address must be known before the dev server starts:
	// the UI is told the codec endpoint on its command line.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ui := testenv.TemporalWithUI(t, "http://"+l.Addr().String()+"/codec")
	e := newStaffEnv(t, map[string]any{"temporal.address": ui.Address, "temporal.ui_url": ui.UIURL})
	srv := &http.Server{Handler: e.server.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	_, managerTok := e.user(dsar.RoleManager)
	created := e.want(e.doKeyed("POST", "/api/v1/requests/manual", managerTok, "ui-1", manualForm("grace@example.org", nil)),
		http.StatusCreated, "record").JSON(t)
	id, _ := created["id"].(string)
	wid := workflows.WorkflowID(id)

	b := newConsoleBrowser(t)
	text := func(url, want string) string {
		t.Helper()
		if _, err := chromedp.Run(b.ctx, chromedp.Navigate(url)); err != nil {
			t.Fatalf("open %s: %v", url, err)
		}
		_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!!document.body && document.body.innerText.includes(`+jsString(want)+`)`))
		body, _ := chromedp.Run(context.WithoutCancel(b.ctx), chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		if err != nil {
			t.Fatalf("%s never showed %q: %v\npage:\n%.3000s", url, want, err, body)
		}
		return body
	}

	// The list shows the workflow.
	text(ui.UIURL+"/namespaces/"+e.cfg.Temporal.Namespace+"/workflows", wid)
	// The workflow's page: the input decoded through the codec endpoint
	// (its field names appear only once decoded), no codec error.
	page := text(ui.UIURL+"/namespaces/"+e.cfg.Temporal.Namespace+"/workflows/"+wid, "DeadlineRule")
	for _, bad := range []string{"Codec Server could not connect", "binary/encrypted"} {
		if strings.Contains(page, bad) {
			t.Errorf("the workflow's page shows %q:\n%.3000s", bad, page)
		}
	}
	if !strings.Contains(page, "Info request · DE") {
		t.Errorf("the workflow's page shows no summary in words:\n%.3000s", page)
	}
	if !strings.Contains(page, id) {
		t.Errorf("the decoded input does not show the request's id:\n%.3000s", page)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
