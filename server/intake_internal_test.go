package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/workflows"
)

// TestStartRefusedOnlyWhenTemporalSaidNo: a row is discarded only when
// Temporal refused the start for certain; a timeout or a lost connection
// may come after the start happened, and the row must stay.
func TestStartRefusedOnlyWhenTemporalSaidNo(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("server: start workflow of x: %w", err) }
	for _, err := range []error{
		serviceerror.NewInvalidArgument("bad input"),
		wrap(serviceerror.NewInvalidArgument("bad input")),
		serviceerror.NewNamespaceNotFound("default"),
		serviceerror.NewNamespaceNotActive("default", "a", "b"),
		serviceerror.NewPermissionDenied("no", "role"),
		serviceerror.NewClientVersionNotSupported("0.1", "temporal-go", ">1.0"),
		serviceerror.NewUnimplemented("no such method"),
		status.Error(codes.Unauthenticated, "no credentials"),
	} {
		if !startRefused(err) {
			t.Errorf("startRefused(%v) = false, want true: Temporal refused the start", err)
		}
	}
	for _, err := range []error{
		context.DeadlineExceeded,
		wrap(context.DeadlineExceeded),
		context.Canceled,
		serviceerror.NewDeadlineExceeded("timed out"),
		wrap(serviceerror.NewUnavailable("connection refused")),
		serviceerror.NewNamespaceUnavailable("default"),
		serviceerror.NewCanceled("canceled"),
		serviceerror.NewInternal("boom"),
		serviceerror.NewAborted("aborted"),
		serviceerror.NewResourceExhausted(enumspb.RESOURCE_EXHAUSTED_CAUSE_PERSISTENCE_LIMIT, "busy"),
		status.Error(codes.Unavailable, "transport is closing"),
		errors.New("an error Temporal did not name"),
	} {
		if startRefused(err) {
			t.Errorf("startRefused(%v) = true, want false: the start may have happened", err)
		}
	}
}

// TestStartWorkflowNobodyListening: a client whose server is not there
// gets an error that leaves the start open (gRPC cannot tell a refused
// connection from one lost mid-call), so intake keeps the row.
func TestStartWorkflowNobodyListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := client.NewLazyClient(client.Options{HostPort: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := &Server{Deps: Deps{Config: testenv.Config(t, "", addr, nil), Temporal: c}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = s.startWorkflow(ctx, testNewRequest(), nil)
	if err == nil || startRefused(err) {
		t.Fatalf("start with nobody listening = %v, want an error that leaves the start open", err)
	}
	t.Logf("nobody listening: %v", err)
}

// TestStartWorkflowTwiceFindsTheRunningOne: a retried start (the first
// one's answer was lost) is no error and starts no second run.
func TestStartWorkflowTwiceFindsTheRunningOne(t *testing.T) {
	ctx := context.Background()
	s, c := serverWithoutWorker(t)
	r := testNewRequest()
	wid := workflows.WorkflowID(r.ID)
	defer func() { _ = c.TerminateWorkflow(ctx, wid, "", "test over") }()

	if err := s.startWorkflow(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	first, err := c.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.startWorkflow(ctx, r, nil); err != nil {
		t.Fatalf("second start of the same request = %v, want nil (it finds the running workflow)", err)
	}
	again, err := c.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		t.Fatal(err)
	}
	a, b := first.WorkflowExecutionInfo, again.WorkflowExecutionInfo
	if b.Execution.RunId != a.Execution.RunId || b.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("after a second start %s is run %s (%s), want the first run %s still running",
			wid, b.Execution.RunId, b.Status, a.Execution.RunId)
	}
}

// TestStartWorkflowCarriesTheRuleZone: a California opt-out received at
// 18:00 on Friday 27 November 2026 in California (02:00 UTC on Saturday)
// is due 15 business days after that Friday, at 18:00 on Friday 18
// December (02:00 UTC on the 19th), and the workflow it starts carries the
// rule with its time zone and the holidays from that Friday on (the day
// after Thanksgiving among them), for its own business-day arithmetic.
func TestStartWorkflowCarriesTheRuleZone(t *testing.T) {
	ctx := context.Background()
	s, c := serverWithoutWorker(t)
	received := time.Date(2026, time.November, 28, 2, 0, 0, 0, time.UTC)
	due, ruleID, _, _, err := s.deadline("US", "US-CA", dsar.RequestOptOut, received)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, time.December, 19, 2, 0, 0, 0, time.UTC); !due.Equal(want) || ruleID != "us_ccpa" {
		t.Fatalf("deadline %v under %s, want %v under us_ccpa", due, ruleID, want)
	}
	r := store.NewRequest{ID: uuid.NewString(), RequestType: dsar.RequestOptOut, RequestorType: dsar.RequestorCustomer,
		Country: "US", Region: "US-CA", SubmittedAt: received, Deadline: due, DeadlineRule: ruleID}
	wid := workflows.WorkflowID(r.ID)
	defer func() { _ = c.TerminateWorkflow(ctx, wid, "", "test over") }()
	if err := s.startWorkflow(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	it := c.GetWorkflowHistory(ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	first, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	var in workflows.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(first.GetWorkflowExecutionStartedEventAttributes().GetInput(), &in); err != nil {
		t.Fatal(err)
	}
	if in.Rule == nil || in.Rule.ID != "us_ccpa" || in.Rule.Timezone != "America/Los_Angeles" {
		t.Fatalf("the workflow's rule %+v, want us_ccpa in America/Los_Angeles", in.Rule)
	}
	if len(in.Holidays) == 0 || in.Holidays[0] != "2026-11-27" {
		t.Errorf("the workflow's holidays %v, want them from Friday 27 November (the day after Thanksgiving) on", in.Holidays)
	}
}

// serverWithoutWorker is a Server on the test Temporal server with no
// worker polling its task queue: a workflow it starts stays running, with
// its input, until the test terminates it.
func serverWithoutWorker(t *testing.T) (*Server, client.Client) {
	cfg := testenv.Config(t, "", testenv.TemporalAddress(t), nil)
	c, err := client.Dial(client.Options{HostPort: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &Server{Deps: Deps{Config: cfg, Temporal: c}}, c
}

// testNewRequest is a request as intake stores it, without PII.
func testNewRequest() store.NewRequest {
	now := time.Now().UTC().Truncate(time.Second)
	return store.NewRequest{ID: uuid.NewString(), RequestType: dsar.RequestInfo, RequestorType: dsar.RequestorCustomer,
		Country: "DE", SubmittedAt: now, Deadline: now.AddDate(0, 1, 0), DeadlineRule: "gdpr"}
}
