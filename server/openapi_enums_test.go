package server

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/internal/gosrc"
	"github.com/opendsar/dsar/workflows"
)

// openAPISchema is a schema of openapi.yaml's components, as far as the
// enum test reads it.
type openAPISchema struct {
	Enum       []string                 `yaml:"enum"`
	Properties map[string]openAPISchema `yaml:"properties"`
	Ref        string                   `yaml:"$ref"`
}

// TestOpenAPIEnumsAndFieldsMatchTheCode keeps openapi.yaml's words the
// code's: each enum lists exactly the values the code knows (a status
// added to dsar.Statuses or to the workflow's tasks fails here until the
// document has it), and the task and request schemas name every field the
// API answers with.
func TestOpenAPIEnumsAndFieldsMatchTheCode(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			Schemas map[string]openAPISchema `yaml:"schemas"`
		} `yaml:"components"`
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var listTasks struct {
		Parameters []struct {
			Name   string        `yaml:"name"`
			Schema openAPISchema `yaml:"schema"`
		} `yaml:"parameters"`
	}
	if node := doc.Paths["/api/v1/tasks"]["get"]; node.Decode(&listTasks) != nil {
		t.Fatal("openapi.yaml: GET /api/v1/tasks is not an operation")
	}
	schemas := doc.Components.Schemas

	taskConsts, err := gosrc.StringConsts("../workflows/contract.go", "Task")
	if err != nil {
		t.Fatal(err)
	}
	var taskStatuses []string
	for _, c := range taskConsts {
		taskStatuses = append(taskStatuses, c.Value)
	}
	for _, want := range []string{workflows.TaskOpen, workflows.TaskCompleted, workflows.TaskDeclined} {
		if !slices.Contains(taskStatuses, want) {
			t.Fatalf("reading workflows/contract.go found the task statuses %q, without %q", taskStatuses, want)
		}
	}
	channels := []string{string(dsar.ChannelForm)}
	for _, c := range dsar.ManualChannels {
		channels = append(channels, string(c))
	}
	outcomes := []string{""} // a task not (yet) completed with one
	for _, o := range dsar.TaskOutcomes {
		outcomes = append(outcomes, string(o))
	}
	for _, tc := range []struct {
		schema string
		want   []string
	}{
		{"Status", strs(dsar.Statuses)},
		{"TaskStatus", taskStatuses},
		{"TaskOutcome", outcomes},
		{"RequestType", strs(dsar.RequestTypes)},
		{"RequestorType", strs(dsar.RequestorTypes)},
		{"Role", strs(dsar.Roles)},
		{"Channel", channels},
		{"AppealStatus", strs(dsar.AppealStatuses)},
	} {
		s, ok := schemas[tc.schema]
		if !ok {
			t.Errorf("openapi.yaml has no schema %s", tc.schema)
			continue
		}
		if got, want := sorted(s.Enum), sorted(tc.want); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("schema %s: enum %q, the code's %q", tc.schema, got, want)
		}
	}

	// The task schemas and the task list's filter say the task status by
	// that one schema, so no copy of its values can go stale.
	const taskStatus = "#/components/schemas/TaskStatus"
	for _, name := range []string{"Task", "TaskItem"} {
		if ref := schemas[name].Properties["status"].Ref; ref != taskStatus {
			t.Errorf("schema %s: status is %q, want a $ref to %s", name, ref, taskStatus)
		}
	}
	var filtered bool
	for _, p := range listTasks.Parameters {
		if p.Name == "status" {
			filtered = p.Schema.Ref == taskStatus
		}
	}
	if !filtered {
		t.Errorf("GET /api/v1/tasks: the status parameter is not a $ref to %s", taskStatus)
	}

	// Every field the API answers with is in its schema.
	for _, tc := range []struct {
		schema string
		of     any
	}{
		{"Task", taskJSON{}},
		{"TaskItem", taskItemJSON{}},
		{"RequestDetail", requestJSON{}},
		{"Appeal", appealJSON{}},
	} {
		for _, f := range jsonFields(reflect.TypeOf(tc.of)) {
			if _, ok := schemas[tc.schema].Properties[f]; !ok {
				t.Errorf("schema %s lacks %s, which the API answers with", tc.schema, f)
			}
		}
	}
}

// strs is a list of string-typed values as strings.
func strs[S ~string](vs []S) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// sorted is a sorted copy of ss.
func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

// jsonFields names the JSON fields of a struct type as encoding/json
// writes them, those of embedded structs included.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}
