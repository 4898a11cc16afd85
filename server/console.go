package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/workflows"
)

// consoleOption is one choice of a list the console offers: a wire value
// and its words.
type consoleOption struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// consoleSettings is what the console's script needs from the server: the
// choices of its filters and forms, and where the Temporal UI is.
type consoleSettings struct {
	Statuses       []consoleOption `json:"statuses"`
	RequestTypes   []consoleOption `json:"request_types"`
	RequestorTypes []consoleOption `json:"requestor_types"`
	Roles          []consoleOption `json:"roles"`
	RejectReasons  []consoleOption `json:"reject_reasons"`
	TaskOutcomes   []consoleOption `json:"task_outcomes"`
	// TaskOutcomesFor are the outcomes a task may end with, by request type.
	TaskOutcomesFor map[dsar.RequestType][]dsar.TaskOutcome `json:"task_outcomes_for"`
	TaskStatuses    []consoleOption                         `json:"task_statuses"`
	// SourceModes are how a data source's tasks are fulfilled;
	// AutomationStates where the system stands on an automated task.
	SourceModes      []consoleOption `json:"source_modes"`
	AutomationStates []consoleOption `json:"automation_states"`
	ClosedStatuses   []dsar.Status   `json:"closed_statuses"`
	TemporalUI       string          `json:"temporal_ui"`
	Namespace        string          `json:"namespace"`
	// Channels are those staff record a request from; Countries and
	// Regions are the form's choices, for recording one.
	// Rules are the jurisdiction rules, for the reports' filter.
	Rules     []consoleOption            `json:"rules"`
	Channels  []consoleOption            `json:"channels"`
	Languages []consoleOption            `json:"languages"` // those a requester is written to in
	Countries []consoleOption            `json:"countries"`
	Regions   map[string][]consoleOption `json:"regions"`
	// SSO offers single sign-on on the sign-in page; PasswordLogin the
	// email and password form.
	SSO           bool `json:"sso"`
	PasswordLogin bool `json:"password_login"`
}

// consolePage is the data of templates/console.html.
type consolePage struct {
	Settings string // consoleSettings as JSON, for a data attribute
}

// consoleRoutes serve the staff console: one page, a client of the staff
// API (server/static/console/), at /console and at every deep link under
// it. The page itself holds nothing private; the script signs in.
func (s *Server) consoleRoutes() {
	s.handle(http.MethodGet, "/console", s.console)
	s.handle(http.MethodGet, "/console/*path", s.console)
}

// console renders the console's page.
func (s *Server) console(c *gin.Context) {
	set := consoleSettings{
		TemporalUI: strings.TrimRight(s.Config.Temporal.UIURL, "/"),
		Namespace:  s.Config.Temporal.Namespace,

		SSO:           s.Config.OIDCEnabled(),
		PasswordLogin: s.Config.Auth.PasswordLogin,
	}
	for _, st := range dsar.Statuses {
		set.Statuses = append(set.Statuses, consoleOption{string(st), st.Label()})
		if st.Closed() {
			set.ClosedStatuses = append(set.ClosedStatuses, st)
		}
	}
	for _, st := range workflows.TaskStatuses {
		set.TaskStatuses = append(set.TaskStatuses, consoleOption{st, workflows.TaskStatusLabel(st)})
	}
	for _, m := range dsar.SourceModes {
		set.SourceModes = append(set.SourceModes, consoleOption{string(m), m.Label()})
	}
	for _, st := range workflows.AutomationStates {
		set.AutomationStates = append(set.AutomationStates, consoleOption{st, workflows.AutomationStateLabel(st)})
	}
	for _, o := range dsar.TaskOutcomes {
		set.TaskOutcomes = append(set.TaskOutcomes, consoleOption{string(o), o.Label()})
	}
	for _, l := range locale.Langs {
		set.Languages = append(set.Languages, consoleOption{string(l), l.Name()})
	}
	set.TaskOutcomesFor = map[dsar.RequestType][]dsar.TaskOutcome{}
	for _, t := range dsar.RequestTypes {
		set.TaskOutcomesFor[t] = dsar.TaskOutcomesFor(t)
		set.RequestTypes = append(set.RequestTypes, consoleOption{string(t), t.Label()})
	}
	for _, t := range dsar.RequestorTypes {
		set.RequestorTypes = append(set.RequestorTypes, consoleOption{string(t), t.Label()})
	}
	for _, r := range dsar.Roles {
		set.Roles = append(set.Roles, consoleOption{string(r), r.Label()})
	}
	for r, text := range dsar.RejectReasons {
		set.RejectReasons = append(set.RejectReasons, consoleOption{string(r), text})
	}
	slices.SortFunc(set.RejectReasons, func(a, b consoleOption) int { return strings.Compare(a.Value, b.Value) })
	for _, r := range s.Config.Jurisdictions {
		set.Rules = append(set.Rules, consoleOption{r.ID, r.Name})
	}
	set.Rules = append(set.Rules, consoleOption{"default", "Default deadline (no rule matched)"})
	for _, ch := range dsar.ManualChannels {
		set.Channels = append(set.Channels, consoleOption{string(ch), ch.Label()})
	}
	for _, c := range countries() {
		set.Countries = append(set.Countries, consoleOption{c.Code, c.Name})
	}
	set.Regions = map[string][]consoleOption{}
	for country, list := range regionsOf() {
		for _, r := range list {
			set.Regions[country] = append(set.Regions[country], consoleOption{r.Code, r.Name})
		}
	}
	raw, err := json.Marshal(set)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.pages.Render(c, http.StatusOK, "console", consolePage{Settings: string(raw)})
}
