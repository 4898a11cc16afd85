package server

import (
	"bytes"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// openAPIDoc is the part of the OpenAPI document the tests read.
type openAPIDoc struct {
	OpenAPI    string                          `yaml:"openapi"`
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components map[string]map[string]any       `yaml:"components"`
}

type openAPIOperation struct {
	Summary   string                `yaml:"summary"`
	Security  []map[string][]string `yaml:"security"`
	Responses map[string]any        `yaml:"responses"`
}

var ginParam = regexp.MustCompile(`[:*]([a-z_]+)`)

// TestOpenAPIDescribesEveryRoute keeps openapi.yaml true: it lists exactly
// the router's routes, each with a summary and responses, its $refs
// resolve, and an operation declares a session exactly when the access
// table asks for one.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	served := e.want(e.do("GET", "/openapi.yaml", "", nil), http.StatusOK, "openapi.yaml")
	if !bytes.Equal(served.Body, openAPI) {
		t.Fatal("GET /openapi.yaml does not serve the embedded document")
	}
	var doc openAPIDoc
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi: %q, want 3.x", doc.OpenAPI)
	}

	documented := map[string]openAPIOperation{}
	for path, ops := range doc.Paths {
		for method, node := range ops {
			if method == "parameters" {
				continue
			}
			var op openAPIOperation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			documented[strings.ToUpper(method)+" "+path] = op
		}
	}
	routed := map[string]string{} // "METHOD /path/{id}" → gin path
	for _, r := range e.server.Engine().Routes() {
		routed[r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = r.Path
	}
	var missing, stale []string
	for k := range routed {
		if _, ok := documented[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if _, ok := routed[k]; !ok {
			stale = append(stale, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	for _, k := range missing {
		t.Errorf("the router has %s, which openapi.yaml does not describe", k)
	}
	for _, k := range stale {
		t.Errorf("openapi.yaml describes %s, which the router does not have", k)
	}

	for k, op := range documented {
		if op.Summary == "" || len(op.Responses) == 0 {
			t.Errorf("%s: no summary or no responses", k)
		}
		ginPath, ok := routed[k]
		if !ok {
			continue
		}
		method, _, _ := strings.Cut(k, " ")
		rule, ok := accessRule(method, ginPath)
		if !ok {
			continue // TestAccessMatrix reports it
		}
		if wantSession := rule.Who != public; wantSession != (len(op.Security) > 0) {
			t.Errorf("%s: security %v, but the access table says %s", k, op.Security, rule.Who)
		}
	}

	// Every $ref points at a component that exists.
	for _, m := range regexp.MustCompile(`\$ref: '#/components/([A-Za-z]+)/([A-Za-z]+)'`).FindAllStringSubmatch(string(openAPI), -1) {
		if _, ok := doc.Components[m[1]][m[2]]; !ok {
			t.Errorf("$ref to #/components/%s/%s, which does not exist", m[1], m[2])
		}
	}
}
