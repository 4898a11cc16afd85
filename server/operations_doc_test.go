package server

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/worker"
	"github.com/opendsar/dsar/workflows"
)

// docCommands are the command lines of docs/operations.md's sh blocks, in
// order: what an operator runs as written.
func docCommands(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.Root(), "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "```sh":
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in && line != "":
			cmds = append(cmds, line)
		}
	}
	return cmds
}

// TestOperationsDocCommands runs every command of docs/operations.md
// against a dev server and the service, on a request's workflow: each must
// succeed and show what the doc says it shows, so the doc cannot drift.
func TestOperationsDocCommands(t *testing.T) {
	bin, err := testenv.TemporalBin()
	if err != nil {
		t.Fatal(err)
	}
	// A dev server of its own: the reconciliation's schedule is one per
	// cluster.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dsarURL := "http://" + l.Addr().String()
	tsrv := testenv.TemporalWithUI(t, dsarURL+"/codec")
	e := newStaffEnv(t, map[string]any{"temporal.address": tsrv.Address, "temporal.ui_url": tsrv.UIURL})
	srv := &http.Server{Handler: e.server.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	if err := worker.EnsureReconcileSchedule(e.ctx, e.temporal, e.cfg.Temporal.TaskQueue, time.Hour); err != nil {
		t.Fatal(err)
	}

	_, adminTok := e.user(dsar.RoleAdmin)
	_, managerTok := e.user(dsar.RoleManager)
	created := e.want(e.doKeyed("POST", "/api/v1/requests/manual", managerTok, "ops-1", manualForm("grace@example.org", nil)),
		http.StatusCreated, "record").JSON(t)
	id, _ := created["id"].(string)
	wid := workflows.WorkflowID(id)
	e.verifyEmail(id)

	env := append(os.Environ(), "TEMPORAL_ADDRESS="+tsrv.Address, "TEMPORAL_NAMESPACE="+e.cfg.Temporal.Namespace,
		"DSAR_URL="+dsarURL, "DSAR_TOKEN="+adminTok, "REQUEST_ID="+id)
	run := func(line string) string {
		t.Helper()
		cmd := exec.CommandContext(e.ctx, "bash", "-c", strings.Replace(line, "bin/temporal", bin, 1))
		cmd.Dir, cmd.Env = testenv.Root(), env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		return string(out)
	}

	// What each kind of command must show.
	cmds := docCommands(t)
	seen := map[string]bool{}
	for _, line := range cmds {
		if !strings.HasPrefix(line, "bin/temporal ") {
			t.Errorf("docs/operations.md: an sh block holds %q: only bin/temporal commands belong there", line)
			continue
		}
		verb := strings.Join(strings.Fields(line)[1:3], " ")
		seen[verb] = true
		if verb == "workflow result" {
			// The run the trigger started: the newest of the schedule's.
			var runs []struct {
				Execution struct {
					WorkflowID string `json:"workflowId"`
				} `json:"execution"`
			}
			e.eventually("a run of the reconciliation in the list", func() bool {
				out := run(`bin/temporal workflow list --query 'TemporalScheduledById = "dsar-reconcile"' --limit 1 -o json`)
				return json.Unmarshal([]byte(out), &runs) == nil && len(runs) > 0
			})
			env = append(env, "RECONCILE_WORKFLOW_ID="+runs[0].Execution.WorkflowID)
		}
		out := run(line)
		var want []string
		switch verb {
		case "workflow describe":
			want = []string{wid, "Info request · DE"}
		case "workflow metadata":
			want = []string{"Waiting for identity"} // readable without the codec
		case "workflow show":
			want = []string{"DeadlineRule", "email-verified"} // decoded: a field of the input
		case "workflow query":
			want = []string{`"status":"awaiting_identity"`}
		case "workflow signal":
			want = []string{"Signal workflow succeeded"}
		case "schedule describe":
			want = []string{"dsar-reconcile"}
		case "workflow result":
			want = []string{"COMPLETED"}
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s shows no %q:\n%s", line, w, out)
			}
		}
	}
	for _, verb := range []string{"workflow describe", "workflow list", "workflow metadata", "workflow show", "workflow query",
		"workflow signal", "schedule describe", "schedule trigger", "workflow result"} {
		if !seen[verb] {
			t.Errorf("docs/operations.md has no %q command", verb)
		}
	}
	// The retry reached the workflow (after the email's verification),
	// sealed through the codec with the admin's token.
	e.eventually("the operator's signal in the history", func() bool { return e.signals(id) == 2 })
}
