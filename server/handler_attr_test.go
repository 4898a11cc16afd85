package server

import (
	"net/http"
	"testing"

	"go.temporal.io/sdk/converter"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/workflows"
)

// TestHandlerIsASearchAttribute: the request's handler, set and cleared
// through the API, is mirrored in its workflow's DsarHandler search
// attribute, so operators can list one person's requests in Temporal.
func TestHandlerIsASearchAttribute(t *testing.T) {
	e := newStaffEnv(t, nil)
	manager, tok := e.user(dsar.RoleManager)
	id := e.request(newRequest{Country: "DE"})
	handler := func() string {
		desc, err := e.temporal.DescribeWorkflowExecution(e.ctx, workflows.WorkflowID(id), "")
		if err != nil {
			t.Fatal(err)
		}
		p := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["DsarHandler"]
		if p == nil {
			return ""
		}
		var v string
		if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	path := "/api/v1/requests/" + id + "/handler"
	e.want(e.do("POST", path, tok, map[string]any{"user_id": manager.ID}), http.StatusOK, "take on")
	e.eventually("DsarHandler names the manager", func() bool { return handler() == manager.ID })
	e.want(e.do("POST", path, tok, map[string]any{"user_id": nil}), http.StatusOK, "clear")
	e.eventually("DsarHandler is cleared", func() bool { return handler() == "" })
}
