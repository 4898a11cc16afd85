package workflows

import (
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Search attributes, for operators filtering in the Temporal UI, e.g.
// DsarOverdue = true AND DsarStatus = 'in_progress'. Their values are never
// PII: Temporal stores them unencrypted.
var (
	AttrStatus      = temporal.NewSearchAttributeKeyKeyword("DsarStatus")
	AttrRequestType = temporal.NewSearchAttributeKeyKeyword("DsarRequestType")
	AttrCountry     = temporal.NewSearchAttributeKeyKeyword("DsarCountry")
	AttrDeadline    = temporal.NewSearchAttributeKeyTime("DsarDeadline")
	AttrOverdue     = temporal.NewSearchAttributeKeyBool("DsarOverdue")
	// AttrAttention is true while a step failed for good and the workflow
	// waits for an operator (its current details say which step and why).
	AttrAttention = temporal.NewSearchAttributeKeyBool("DsarAttention")
	// AttrHandler is the id of the staff member handling the request (set
	// from SignalHandlerSet; unset while it has none).
	AttrHandler = temporal.NewSearchAttributeKeyKeyword("DsarHandler")
)

// SearchAttributes is every custom search attribute with its type, for
// registration at start-up.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	"DsarStatus":      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	"DsarRequestType": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	"DsarCountry":     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	"DsarDeadline":    enumspb.INDEXED_VALUE_TYPE_DATETIME,
	"DsarOverdue":     enumspb.INDEXED_VALUE_TYPE_BOOL,
	"DsarAttention":   enumspb.INDEXED_VALUE_TYPE_BOOL,
	"DsarHandler":     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// Summary is a workflow's static summary and details for the Temporal UI's
// list and page: the request's type, jurisdiction and due date in words.
// They hold no PII and stay readable without the codec (codec.ReadableWords).
func Summary(in Input, ruleName string) (summary, details string) {
	due := in.Deadline.UTC().Format("Mon 2 Jan 2006")
	summary = fmt.Sprintf("%s request · %s · due %s", in.RequestType.Label(), jurisdictionWords(in, ruleName), due)
	details = fmt.Sprintf("**%s request** from a %s\n\n"+
		"- Jurisdiction: %s (deadline rule `%s`)\n"+
		"- Submitted: %s\n"+
		"- Due: %s (may be extended by %s)\n"+
		"- Request: `%s`",
		in.RequestType.Label(), strings.ToLower(in.RequestorType.Label()), jurisdictionWords(in, ruleName), in.DeadlineRule,
		in.SubmittedAt.UTC().Format("Mon 2 Jan 2006 15:04 MST"), in.Deadline.UTC().Format("Monday 2 January 2006 15:04 MST"),
		in.MaxExtension, in.RequestID)
	return summary, details
}

// jurisdictionWords is the country (and region) with the rule's name.
func jurisdictionWords(in Input, ruleName string) string {
	where := in.Country
	if in.Region != "" {
		where += "-" + in.Region
	}
	if where == "" {
		where = "no country"
	}
	if ruleName != "" {
		where += " (" + ruleName + ")"
	}
	return where
}
