package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opendsar/dsar"
)

// DefaultTimeLimit is how long a webhook source's owner has to post a job's
// result when the source sets no other limit.
const DefaultTimeLimit = 72 * time.Hour

// DefaultTaskQueue is the task queue of a data source's connector unless
// set otherwise: dsar-source- and the first part of its id.
func DefaultTaskQueue(dataSourceID string) string {
	short := dataSourceID
	if len(short) > 8 {
		short = short[:8]
	}
	return "dsar-source-" + short
}

// SourceSettings is how a data source's tasks are fulfilled. Credentials
// are never among them: a connector holds its own.
type SourceSettings struct {
	Mode      dsar.SourceMode `db:"mode" json:"mode"`
	TaskQueue string          `db:"task_queue" json:"task_queue"` // SQL modes: the connector's queue
	DryRun    bool            `db:"dry_run" json:"dry_run"`       // erasures wait for an approval of the rows matched
	TimeLimit Duration        `db:"time_limit_seconds" json:"time_limit"`
	// WebhookURL is where a webhook source's jobs go ("" for none);
	// WebhookSecretSet whether the service made its signing secret (shown
	// once, never read back: docs/webhooks.md).
	WebhookURL       string `db:"webhook_url" json:"webhook_url"`
	WebhookSecretSet bool   `db:"webhook_secret_set" json:"webhook_secret_set"`
}

// Duration is a time.Duration stored as whole seconds and written in JSON
// as Go writes durations ("72h0m0s").
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Scan reads whole seconds.
func (d *Duration) Scan(src any) error {
	n, ok := src.(int64)
	if !ok {
		return fmt.Errorf("store: duration from %T", src)
	}
	*d = Duration(time.Duration(n) * time.Second)
	return nil
}

// Value writes whole seconds.
func (d Duration) Value() (driver.Value, error) { return int64(time.Duration(d) / time.Second), nil }

// Automation is where an automated task's child workflow stands, as the
// request's workflow last projected it. Error is for people and holds no
// personal data.
type Automation struct {
	Step      string    `json:"step"`
	State     string    `json:"state"`
	Error     string    `json:"error,omitempty"`
	ErrorType string    `json:"error_type,omitempty"`
	Matched   int64     `json:"matched,omitempty"` // a dry run's rows, waiting for approval
	UpdatedAt time.Time `json:"updated_at"`
}

// Scan reads the jsonb column.
func (a *Automation) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok {
		return fmt.Errorf("store: automation from %T", src)
	}
	return json.Unmarshal(b, a)
}

// automationValue is a for the jsonb column: NULL when nil.
func automationValue(a *Automation) (*string, error) {
	if a == nil {
		return nil, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	return new(string(b)), nil
}
