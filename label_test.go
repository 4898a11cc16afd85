package dsar

import (
	"strings"
	"testing"
)

// TestEveryValueHasALabel: every status, channel, task outcome and request
// type, staff role and source mode has a label of words for people, never its wire value or nothing.
func TestEveryValueHasALabel(t *testing.T) {
	type value struct{ raw, label string }
	var all []value
	for _, s := range Statuses {
		all = append(all, value{string(s), s.Label()})
	}
	for _, c := range append([]Channel{ChannelForm}, ManualChannels...) {
		all = append(all, value{string(c), c.Label()})
	}
	for _, o := range TaskOutcomes {
		all = append(all, value{string(o), o.Label()})
	}
	all = append(all, value{"(no outcome)", TaskOutcome("").Label()})
	for _, r := range RequestTypes {
		all = append(all, value{string(r), r.Label()})
	}
	for _, s := range AppealStatuses {
		all = append(all, value{string(s), s.Label()})
	}
	for _, r := range Roles {
		all = append(all, value{string(r), r.Label()})
	}
	for _, m := range SourceModes {
		all = append(all, value{string(m), m.Label()})
	}
	for _, o := range append(RecordOutcomes, "") {
		all = append(all, value{string(o), o.Label()})
	}
	for _, v := range all {
		if v.label == "" || v.label == v.raw || strings.Contains(v.label, "_") {
			t.Errorf("%q is labelled %q, not in words", v.raw, v.label)
		}
	}
}
