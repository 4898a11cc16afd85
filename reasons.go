package dsar

// RejectReason is a reason code given when a request is rejected. The
// requester is told the generic text, never staff notes.
type RejectReason string

// The rejection reasons.
const (
	RejectIdentityNotVerified RejectReason = "identity_not_verified"
	RejectManifestlyUnfounded RejectReason = "manifestly_unfounded"
	RejectExcessive           RejectReason = "excessive"
	RejectLegalExemption      RejectReason = "legal_exemption"
	RejectNotApplicable       RejectReason = "not_applicable"
	RejectDuplicate           RejectReason = "duplicate"
	RejectIncomplete          RejectReason = "incomplete"
	RejectOther               RejectReason = "other"
)

// RejectReasons lists every reason code with the generic text the requester
// reads in the rejection email.
var RejectReasons = map[RejectReason]string{
	RejectIdentityNotVerified: "We could not verify your identity from the information provided.",
	RejectManifestlyUnfounded: "The request was found to be manifestly unfounded.",
	RejectExcessive:           "The request was found to be excessive, for example because it repeats a recent request.",
	RejectLegalExemption:      "A legal exemption or obligation prevents us from acting on the request.",
	RejectNotApplicable:       "The applicable privacy law does not give this right in your situation.",
	RejectDuplicate:           "The same request is already being handled.",
	RejectIncomplete:          "The request did not contain enough information for us to act on it.",
	RejectOther:               "Another reason, which we may explain in a message in the portal.",
}

// Valid reports whether r is a known reason code.
func (r RejectReason) Valid() bool {
	_, ok := RejectReasons[r]
	return ok
}
