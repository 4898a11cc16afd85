package dsar

import (
	"testing"

	"github.com/opendsar/dsar/internal/gosrc"
)

// TestEveryAuditActionHasALabel reads audit.go: every Audit* constant is
// in the label table, with a label of words.
func TestEveryAuditActionHasALabel(t *testing.T) {
	consts, err := gosrc.StringConsts("audit.go", "Audit")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range consts {
		if l := AuditLabel(c.Value); l == c.Value || l == "" {
			t.Errorf("%s (%q) has no label", c.Name, c.Value)
		}
	}
	if len(consts) == 0 || len(consts) != len(AuditActions()) {
		t.Errorf("%d constants, %d labelled actions", len(consts), len(AuditActions()))
	}
	for _, s := range Statuses {
		if s.Closed() && AuditLabel(AuditClosed(s)) == AuditClosed(s) {
			t.Errorf("closing as %s has no labelled action", s)
		}
	}
}
