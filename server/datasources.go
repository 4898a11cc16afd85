package server

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// Limits of a data source's fields.
const (
	maxSourceName        = 200
	maxSourceDescription = 2000
	maxSourceOwners      = 50
	maxTaskQueue         = 200
	minTimeLimit         = time.Minute
	maxTimeLimit         = 90 * 24 * time.Hour
)

// dataSourceInput is a data source's fields as a client sends them; nil
// ones are absent (PATCH).
type dataSourceInput struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	OwnerIDs    *[]string `json:"owner_ids"`

	// How its tasks are fulfilled (optional; create: manual, the default
	// queue, no dry run, 72h).
	Mode      *dsar.SourceMode `json:"mode"`
	TaskQueue *string          `json:"task_queue"`
	DryRun    *bool            `json:"dry_run"`
	TimeLimit *string          `json:"time_limit"`
	timeLimit *store.Duration  // TimeLimit, parsed by check

	// WebhookURL is where a webhook source's jobs go ("" removes it).
	WebhookURL *string `json:"webhook_url"`
}

// check validates the fields present (all three are required when create)
// and trims the name. Errors name each bad field. dev allows a webhook URL
// of http to the machine itself.
func (in *dataSourceInput) check(create, dev bool) error {
	bad := map[string]string{}
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		in.Name = &n
	}
	switch {
	case in.Name == nil && create:
		bad["name"] = "is required"
	case in.Name != nil && (*in.Name == "" || utf8.RuneCountInString(*in.Name) > maxSourceName):
		bad["name"] = "must be 1 to 200 characters"
	}
	if in.Description != nil && utf8.RuneCountInString(*in.Description) > maxSourceDescription {
		bad["description"] = "must be at most 2000 characters"
	}
	switch {
	case in.OwnerIDs == nil && create:
		bad["owner_ids"] = "name at least one owner (a user id)"
	case in.OwnerIDs != nil && len(*in.OwnerIDs) == 0:
		bad["owner_ids"] = "name at least one owner (a user id)"
	case in.OwnerIDs != nil && len(*in.OwnerIDs) > maxSourceOwners:
		bad["owner_ids"] = "name at most 50 owners"
	}
	in.checkMode(bad)
	if in.WebhookURL != nil {
		u := strings.TrimSpace(*in.WebhookURL)
		in.WebhookURL = &u
		if why := webhookURLProblem(u, dev); why != "" {
			bad["webhook_url"] = why
		}
	}
	if create && in.Mode != nil && *in.Mode == dsar.SourceWebhook && (in.WebhookURL == nil || *in.WebhookURL == "") && bad["webhook_url"] == "" {
		bad["webhook_url"] = "is required for mode webhook: where the service posts its jobs (https)"
	}
	if len(bad) > 0 {
		return dsar.Invalid(bad)
	}
	return nil
}

// checkMode validates the fulfilment fields present, naming each bad one
// in bad, and parses the time limit.
func (in *dataSourceInput) checkMode(bad map[string]string) {
	if in.Mode != nil && !in.Mode.Valid() {
		bad["mode"] = "must be one of " + dsar.SourceModesText()
	}
	if in.TaskQueue != nil {
		q := strings.TrimSpace(*in.TaskQueue)
		in.TaskQueue = &q
		if q == "" || utf8.RuneCountInString(q) > maxTaskQueue {
			bad["task_queue"] = "must be 1 to 200 characters"
		}
	}
	if in.TimeLimit != nil {
		d, err := time.ParseDuration(strings.TrimSpace(*in.TimeLimit))
		if err != nil || d < minTimeLimit || d > maxTimeLimit {
			bad["time_limit"] = "must be a duration from 1m to 2160h (90 days), such as 72h"
		} else {
			in.timeLimit = new(store.Duration(d))
		}
	}
}

// settings are the fulfilment fields of a new data source.
func (in *dataSourceInput) settings() store.SourceSettings {
	var set store.SourceSettings
	if in.Mode != nil {
		set.Mode = *in.Mode
	}
	if in.TaskQueue != nil {
		set.TaskQueue = *in.TaskQueue
	}
	if in.DryRun != nil {
		set.DryRun = *in.DryRun
	}
	if in.timeLimit != nil {
		set.TimeLimit = *in.timeLimit
	}
	if in.WebhookURL != nil {
		set.WebhookURL = *in.WebhookURL
	}
	return set
}

// listDataSources is GET /api/v1/data-sources.
func (s *Server) listDataSources(c *gin.Context) {
	ds, err := s.DB.DataSources(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": ds})
}

// getDataSource is GET /api/v1/data-sources/{id}.
func (s *Server) getDataSource(c *gin.Context) {
	d, err := s.DB.DataSource(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

// createDataSource is POST /api/v1/data-sources: name, description and
// owners, each an existing user (else 422 naming the id).
func (s *Server) createDataSource(c *gin.Context) {
	var in dataSourceInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if err := in.check(true, s.Config.Dev()); err != nil {
		s.fail(c, err)
		return
	}
	desc := ""
	if in.Description != nil {
		desc = *in.Description
	}
	d, err := s.DB.CreateDataSourceWith(c.Request.Context(), *in.Name, desc, *in.OwnerIDs, in.settings())
	if err != nil {
		s.fail(c, err)
		return
	}
	secret, err := s.webhookSecret(c, &d)
	if err != nil {
		s.fail(c, err)
		return
	}
	_ = s.auditStaff(c, "", dsar.AuditDataSourceCreated, map[string]any{"data_source_id": d.ID, "owner_ids": *in.OwnerIDs,
		"mode": string(d.Mode), "webhook_url": d.WebhookURL != ""})
	c.JSON(http.StatusCreated, createdDataSource{DataSource: d, WebhookSecret: secret})
}

// updateDataSource is PATCH /api/v1/data-sources/{id}: the fields sent
// replace the stored ones (owner_ids replaces the whole list, of active
// users). The answer warns while the source has no active owner.
func (s *Server) updateDataSource(c *gin.Context) {
	var in dataSourceInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if err := in.check(false, s.Config.Dev()); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.webhookURLKept(c, in); err != nil {
		s.fail(c, err)
		return
	}
	d, err := s.DB.UpdateDataSource(c.Request.Context(), c.Param("id"), dataSourcePatch(in))
	if err != nil {
		s.fail(c, err)
		return
	}
	secret, err := s.webhookSecret(c, &d)
	if err != nil {
		s.fail(c, err)
		return
	}
	detail := map[string]any{"data_source_id": d.ID}
	if in.OwnerIDs != nil {
		detail["owner_ids"] = *in.OwnerIDs
	}
	if in.Mode != nil {
		detail["mode"] = string(*in.Mode)
	}
	if in.WebhookURL != nil {
		detail["webhook_url"] = *in.WebhookURL != ""
	}
	_ = s.auditStaff(c, "", dsar.AuditDataSourceUpdated, detail)
	warnings := []warning{}
	if !d.HasActiveOwner() {
		warnings = unownedWarnings([]store.SourceRef{{ID: d.ID, Name: d.Name}})
	}
	c.JSON(http.StatusOK, dataSourceAnswer{DataSource: d, Warnings: warnings, WebhookSecret: secret})
}

// dataSourceAnswer is PATCH /api/v1/data-sources/{id}'s answer: the source,
// a warning while it has no active owner, and its webhook secret the one
// time it is made.
type dataSourceAnswer struct {
	store.DataSource
	Warnings      []warning `json:"warnings"`
	WebhookSecret string    `json:"webhook_secret,omitempty"`
}

// createdDataSource is POST /api/v1/data-sources's answer: the source, and
// its webhook secret when one was made.
type createdDataSource struct {
	store.DataSource
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// deleteDataSource is DELETE /api/v1/data-sources/{id}: 409 while the
// source has open tasks.
func (s *Server) deleteDataSource(c *gin.Context) {
	id := c.Param("id")
	if err := s.DB.DeleteDataSource(c.Request.Context(), id); err != nil {
		s.fail(c, err)
		return
	}
	_ = s.auditStaff(c, "", dsar.AuditDataSourceDeleted, map[string]any{"data_source_id": id})
	c.Status(http.StatusNoContent)
}

// dataSourcePatch is the store's patch for the fields present in in.
func dataSourcePatch(in dataSourceInput) store.DataSourcePatch {
	return store.DataSourcePatch{Name: in.Name, Description: in.Description, OwnerIDs: in.OwnerIDs,
		Mode: in.Mode, TaskQueue: in.TaskQueue, DryRun: in.DryRun, TimeLimit: in.timeLimit, WebhookURL: in.WebhookURL}
}
