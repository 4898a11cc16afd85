package dsar

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// TestEveryAuditActionHasALabel reads this package's source: every Audit*
// constant is in the label table, and has a label of words.
func TestEveryAuditActionHasALabel(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "audit.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			for i, name := range v.Names {
				if !strings.HasPrefix(name.Name, "Audit") {
					continue
				}
				action, _ := strconv.Unquote(v.Values[i].(*ast.BasicLit).Value)
				n++
				if l := AuditLabel(action); l == action || l == "" {
					t.Errorf("%s (%q) has no label", name.Name, action)
				}
			}
		}
	}
	if n == 0 || n != len(AuditActions()) {
		t.Errorf("%d constants, %d labelled actions", n, len(AuditActions()))
	}
	for _, s := range Statuses {
		if s.Closed() && AuditLabel(AuditClosed(s)) == AuditClosed(s) {
			t.Errorf("closing as %s has no labelled action", s)
		}
	}
}
