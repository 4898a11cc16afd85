// Package dsar holds the domain types of the DSAR service: requests, their
// statuses and types, users and roles, and the one error type every layer
// speaks. It imports nothing of the project; every other package imports it.
package dsar

import (
	"errors"
	"fmt"
)

// Status is where a request stands in its lifecycle. The values are the wire
// values of the API and of the DsarStatus search attribute.
type Status string

// The statuses of a request, in lifecycle order.
const (
	StatusPendingEmailVerification Status = "pending_email_verification"
	StatusAwaitingIdentity         Status = "awaiting_identity"
	StatusIdentityVerified         Status = "identity_verified"
	StatusInProgress               Status = "in_progress"
	StatusReadyToClose             Status = "ready_to_close"
	StatusCompleted                Status = "completed"
	StatusRejected                 Status = "rejected"
	StatusExpired                  Status = "expired"
	StatusWithdrawn                Status = "withdrawn"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{
	StatusPendingEmailVerification, StatusAwaitingIdentity, StatusIdentityVerified,
	StatusInProgress, StatusReadyToClose, StatusCompleted, StatusRejected, StatusExpired, StatusWithdrawn,
}

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Closed reports whether a request in status s is finished: nothing more can
// happen to it.
func (s Status) Closed() bool {
	return s == StatusCompleted || s == StatusRejected || s == StatusExpired || s == StatusWithdrawn
}

// Unassigned reports whether a verified request still waits for data sources.
func (s Status) Unassigned() bool {
	return s == StatusAwaitingIdentity || s == StatusIdentityVerified
}

// Label is the status in words, for people.
func (s Status) Label() string {
	switch s {
	case StatusPendingEmailVerification:
		return "Waiting for the requester to verify their email"
	case StatusAwaitingIdentity:
		return "Waiting for identity verification"
	case StatusIdentityVerified:
		return "Identity verified, waiting for data sources to be assigned"
	case StatusInProgress:
		return "In progress: data source owners are working on their tasks"
	case StatusReadyToClose:
		return "All tasks done, ready to complete"
	case StatusCompleted:
		return "Completed"
	case StatusRejected:
		return "Rejected"
	case StatusExpired:
		return "Expired: the email was never verified"
	case StatusWithdrawn:
		return "Withdrawn by the requester"
	}
	return string(s)
}

// RequestType is what the requester asks for.
type RequestType string

// The request types of the form.
const (
	RequestComplaint  RequestType = "complaint"
	RequestCorrection RequestType = "correction"
	RequestDeletion   RequestType = "deletion"
	RequestDoNotSell  RequestType = "do_not_sell"
	RequestInfo       RequestType = "info"
	RequestOptOut     RequestType = "opt_out"
)

// RequestTypes lists every request type in the form's order.
var RequestTypes = []RequestType{RequestComplaint, RequestCorrection, RequestDeletion, RequestDoNotSell, RequestInfo, RequestOptOut}

// Valid reports whether t is a known request type.
func (t RequestType) Valid() bool {
	for _, v := range RequestTypes {
		if t == v {
			return true
		}
	}
	return false
}

// Label is the request type in words.
func (t RequestType) Label() string {
	switch t {
	case RequestComplaint:
		return "Complaint"
	case RequestCorrection:
		return "Correction"
	case RequestDeletion:
		return "Deletion"
	case RequestDoNotSell:
		return "Do Not Sell"
	case RequestInfo:
		return "Info"
	case RequestOptOut:
		return "Opt-Out"
	}
	return string(t)
}

// RequestorType is who the requester is to the company.
type RequestorType string

// The requestor types of the form.
const (
	RequestorCustomer RequestorType = "customer"
	RequestorEmployee RequestorType = "employee"
	RequestorOther    RequestorType = "other"
)

// RequestorTypes lists every requestor type in the form's order.
var RequestorTypes = []RequestorType{RequestorCustomer, RequestorEmployee, RequestorOther}

// Valid reports whether t is a known requestor type.
func (t RequestorType) Valid() bool {
	return t == RequestorCustomer || t == RequestorEmployee || t == RequestorOther
}

// Label is the requestor type in words.
func (t RequestorType) Label() string {
	switch t {
	case RequestorCustomer:
		return "Customer"
	case RequestorEmployee:
		return "Employee"
	case RequestorOther:
		return "Other"
	}
	return string(t)
}

// Role is what a staff user may do.
type Role string

// The staff roles, from most to least powerful.
const (
	RoleOrgOwner    Role = "org_owner"
	RoleAdmin       Role = "admin"
	RoleManager     Role = "manager"
	RoleSourceOwner Role = "source_owner"
	// RoleOperator runs the deployment: it reads Temporal's histories
	// through the codec endpoint and works no request (no queue, no task,
	// no data source).
	RoleOperator Role = "operator"
)

// Roles lists every role.
var Roles = []Role{RoleOrgOwner, RoleAdmin, RoleManager, RoleSourceOwner, RoleOperator}

// Label is the role in words.
func (r Role) Label() string {
	switch r {
	case RoleOrgOwner:
		return "Organisation owner"
	case RoleAdmin:
		return "Administrator"
	case RoleManager:
		return "Manager"
	case RoleSourceOwner:
		return "Data source owner"
	case RoleOperator:
		return "Operator"
	}
	return string(r)
}

// WorksRequests reports whether a user of role r works requests (queue,
// tasks, data sources): every role but operator.
func (r Role) WorksRequests() bool { return r.Valid() && r != RoleOperator }

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, v := range Roles {
		if r == v {
			return true
		}
	}
	return false
}

// Error codes. Each maps to one HTTP status in the server.
const (
	EINVALID      = "invalid"      // 422: a field is wrong; Fields says which
	EBADREQUEST   = "bad_request"  // 400: the body cannot be read
	EUNAUTHORIZED = "unauthorized" // 401
	EFORBIDDEN    = "forbidden"    // 403
	ENOTFOUND     = "not_found"    // 404
	ECONFLICT     = "conflict"     // 409: the state does not allow it
	EGONE         = "gone"         // 410: used, expired or scrubbed
	ETOOLARGE     = "too_large"    // 413
	EUNSUPPORTED  = "unsupported"  // 415
	ERATELIMITED  = "rate_limited" // 429
	EUNAVAILABLE  = "unavailable"  // 503: a dependency is down; retry
	EINTERNAL     = "internal"     // 500
)

// Error is the one error type the layers share. Code says what kind of error
// it is, Message is safe to show to the caller, and Fields names the fields
// that are wrong (for EINVALID).
type Error struct {
	Code    string
	Message string
	Fields  map[string]string
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("dsar: %s: %s %v", e.Code, e.Message, e.Fields)
	}
	return fmt.Sprintf("dsar: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error naming the bad fields.
func Invalid(fields map[string]string) *Error {
	return &Error{Code: EINVALID, Message: "some fields are not valid", Fields: fields}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and
// EINTERNAL otherwise.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err: its own for an *Error,
// a generic one otherwise.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Channel is how a request reached the company: the form, or another way
// staff recorded it by.
type Channel string

// The channels of a request.
const (
	ChannelForm     Channel = "form"
	ChannelPhone    Channel = "phone"
	ChannelMail     Channel = "mail"
	ChannelEmail    Channel = "email"
	ChannelInPerson Channel = "in_person"
)

// ManualChannels are the channels staff may record a request from.
var ManualChannels = []Channel{ChannelPhone, ChannelMail, ChannelEmail, ChannelInPerson}

// Label is the channel in words.
func (c Channel) Label() string {
	switch c {
	case ChannelForm:
		return "Web form"
	case ChannelPhone:
		return "Phone"
	case ChannelMail:
		return "Post"
	case ChannelEmail:
		return "Email"
	case ChannelInPerson:
		return "In person"
	}
	return string(c)
}
