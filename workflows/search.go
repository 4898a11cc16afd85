package workflows

import (
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
}
