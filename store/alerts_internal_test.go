package store

import (
	"slices"
	"testing"

	"github.com/opendsar/dsar/internal/gosrc"
)

// TestEveryAlertKindHasALabel reads alerts.go: every Alert* kind constant
// is listed in AlertKinds and has a label of words.
func TestEveryAlertKindHasALabel(t *testing.T) {
	consts, err := gosrc.StringConsts("alerts.go", "Alert")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range consts {
		if !slices.Contains(AlertKinds, c.Value) {
			t.Errorf("%s is not in AlertKinds", c.Name)
		}
		if l := AlertLabel(c.Value); l == c.Value || l == "" {
			t.Errorf("%s (%q) has no label", c.Name, c.Value)
		}
	}
	if len(consts) == 0 || len(consts) != len(AlertKinds) {
		t.Errorf("%d kinds, %d listed", len(consts), len(AlertKinds))
	}
}
