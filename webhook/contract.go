package webhook

import "time"

// JobType is the type of the job message.
const JobType = "dsar.job"

// Job is the body of the message the service posts to a webhook source's
// endpoint: do this source's part of one request, and post the result to
// CallbackURL before ExpiresAt.
type Job struct {
	Type         string    `json:"type"`   // JobType
	JobID        string    `json:"job_id"` // the message's webhook-id; a redelivery carries the same
	RequestID    string    `json:"request_id"`
	Reference    string    `json:"reference,omitempty"` // the request's reference, as the requester knows it
	RequestType  string    `json:"request_type"`        // "info" (access: export the data) or "deletion" (erase it)
	DataSourceID string    `json:"data_source_id"`
	Subject      Subject   `json:"subject"`
	CallbackURL  string    `json:"callback_url"` // one-time: POST the signed Result here
	ExpiresAt    time.Time `json:"expires_at"`   // the callback is refused after this
}

// Subject is whom a job is about: the requester's verified email address.
type Subject struct {
	Email string `json:"email"`
}

// Statuses of a Result.
const (
	StatusDone   = "done"   // the job was done: Outcome says how it ended
	StatusFailed = "failed" // the job cannot be done: Message says why, and the task needs a person
)

// Result is the body the source's owner posts, signed, to a job's
// CallbackURL.
type Result struct {
	Status      string `json:"status"`
	Outcome     string `json:"outcome,omitempty"` // done: data_provided or no_data (info), erased or no_data (deletion)
	RecordCount int64  `json:"record_count"`
	Message     string `json:"message,omitempty"` // for staff; no personal data
	Files       []File `json:"files,omitempty"`   // info, data_provided: the exported data
}

// File is one exported file of a Result.
type File struct {
	Name          string `json:"name"`
	ContentBase64 string `json:"content_base64"` // standard base64, padded
}
