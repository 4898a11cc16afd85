package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/connector"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/workflows"
)

// buildDSAR builds the dsar binary into dir.
func buildDSAR(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "dsar")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/dsar")
	cmd.Dir = testenv.Root()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// connectorProcess is a running `dsar connector`.
type connectorProcess struct {
	cmd *exec.Cmd
	log *os.File
}

// startConnector starts `dsar connector --config cfg` as a process of its
// own, its output in the test's directory; stopped (killed) when the test
// ends.
func startConnector(t *testing.T, bin, cfg, logPath string) *connectorProcess {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "connector", "--config", cfg)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &connectorProcess{cmd: cmd, log: f}
	t.Cleanup(p.kill)
	return p
}

// kill ends the process at once (SIGKILL), as a crash or an OOM kill would.
func (p *connectorProcess) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
	p.log.Close()
}

// TestConnectorKilledMidExportResumes runs `dsar connector` as its own
// process on a source's task queue, exporting a subject with many rows in
// small pages for an access request's task, kills it (-9) once its
// heartbeat shows progress, and starts it again: the export finishes in
// the same upload, the task is completed with it, and the task file holds
// every row of the subject exactly once.
func TestConnectorKilledMidExportResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the killed step's heartbeat to time out")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := buildDSAR(t, dir)
	e := start(t, nil)
	c := e.crew()
	token := e.connectorToken(c.owner, c.source)
	people := customersOf("kill")
	ada := people[0]
	const bulk = 200000
	o := ownerPostgres(t, people, bulk)
	queue := "dsar-source-kill-" + c.source[:8]
	cfgPath := filepath.Join(dir, "connector.yaml")
	if err := os.WriteFile(cfgPath, []byte(connectorConfig(e, queue, c.source, token, o, o.dsn, 50, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	e.automate(c.owner, c.source, connector.KindPostgres, queue)
	logPath := filepath.Join(dir, "connector.log")
	first := startConnector(t, bin, cfgPath, logPath)
	reqID := e.assignedRequest(c, person{"Ada", "Access", ada.email, "Everything."}, "info", c.source)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// The source's child, which the request's workflow started.
	run := e.app.Temporal.GetWorkflow(ctx, workflows.SourceWorkflowID(reqID, c.source), "")

	// Progress: parts have reached the service and the step's heartbeat
	// holds its position.
	dc, err := codec.PayloadKeyDataConverter(codec.PayloadKey(e.app.Keys))
	if err != nil {
		t.Fatal(err)
	}
	var uploadID string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var parts int
		_ = e.app.DB.Get(&parts, `SELECT count(*) FROM connector_upload_parts p JOIN connector_uploads u ON u.id = p.upload_id WHERE u.request_id = $1`, reqID)
		var pending []*workflowpb.PendingActivityInfo
		if d, err := e.app.Temporal.DescribeWorkflowExecution(ctx, run.GetID(), ""); err == nil { // started yet?
			pending = d.GetPendingActivities()
		}
		// The heartbeat, read as the connector sealed it: its position is
		// past a part it sent.
		var hb struct {
			UploadID string
			Parts    int
		}
		if len(pending) == 1 && pending[0].GetActivityType().GetName() == "ConnectorStep" && pending[0].GetHeartbeatDetails() != nil {
			if err := dc.FromPayloads(pending[0].GetHeartbeatDetails(), &hb); err != nil {
				t.Fatalf("the heartbeat's details: %v", err)
			}
		}
		if parts >= 1 && hb.Parts >= 1 {
			if err := e.app.DB.Get(&uploadID, `SELECT id FROM connector_uploads WHERE request_id = $1`, reqID); err != nil {
				t.Fatal(err)
			}
			if hb.UploadID != uploadID {
				t.Fatalf("the heartbeat names upload %s, the service holds %s", hb.UploadID, uploadID)
			}
			t.Logf("the heartbeat: %d parts sent", hb.Parts)
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("no progress of the export within 2 minutes (%d parts); the connector says:\n%s", parts, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.kill()
	var partsAtKill int
	if err := e.app.DB.Get(&partsAtKill, `SELECT count(*) FROM connector_upload_parts WHERE upload_id = $1`, uploadID); err != nil {
		t.Fatal(err)
	}
	if partsAtKill*50 >= bulk {
		t.Fatalf("the export was done (%d parts) before the connector was killed: nothing to resume", partsAtKill)
	}

	startConnector(t, bin, cfgPath, logPath)
	var res workflows.SourceResult
	if err := run.Get(ctx, &res); err != nil {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("the source's child: %v; the connector says:\n%s", err, log)
	}
	want := 1 + ada.orders + bulk
	if res.Outcome != dsar.TaskDataProvided || res.RecordCount != int64(want) || len(res.FileIDs) != 1 {
		t.Fatalf("result %+v, want %d rows in one file", res, want)
	}
	if res.FileIDs[0] != uploadID {
		t.Errorf("the export finished in upload %s, not in the one the killed connector started (%s): it started over", res.FileIDs[0], uploadID)
	}
	lines := e.readExport(c.owner, reqID, c.source, res.FileIDs[0])
	seen := map[string]bool{}
	for _, l := range lines {
		k := fmt.Sprintf("%s/%v", l.Table, l.Row["id"])
		if seen[k] {
			t.Fatalf("row %s is in the export twice", k)
		}
		seen[k] = true
		if l.Table == "orders" && fmt.Sprint(l.Row["customer_id"]) != "1" {
			t.Fatalf("someone else's order in the export: %v", l.Row)
		}
	}
	if len(lines) != want {
		t.Fatalf("the export holds %d rows, want %d", len(lines), want)
	}
	e.eventually("the task is completed with the export", func() bool { return e.task(c.owner, reqID).Status == "completed" })
	var audit struct {
		Items []struct {
			Action string
			Detail map[string]any
		}
	}
	e.want(e.get("/api/v1/requests/"+reqID+"/audit", c.owner), http.StatusOK, "audit").json(t, &audit)
	found := false
	for _, a := range audit.Items {
		if a.Action == dsar.AuditConnectorStep && a.Detail["step"] == workflows.StepExport {
			found = a.Detail["file_id"] == uploadID && fmt.Sprint(a.Detail["rows"]) == fmt.Sprint(want)
		}
	}
	if !found {
		t.Errorf("the audit trail does not record the export's file and rows: %+v", audit.Items)
	}
	t.Logf("killed after %d of %d parts; resumed in the same upload", partsAtKill, (want+49)/50)
}
