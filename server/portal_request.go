package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/store"
)

// portalRequestJSON is GET /api/v1/portal/requests/{id}: one of the
// requester's requests explained, in the requester's words.
type portalRequestJSON struct {
	ID          string           `json:"id"`
	Reference   string           `json:"reference"`
	RequestType dsar.RequestType `json:"request_type"`
	Status      dsar.Status      `json:"status"`
	StatusLabel string           `json:"status_label"`
	SubmittedAt time.Time        `json:"submitted_at"`
	Deadline    time.Time        `json:"deadline"`
	Extension   *portalExtension `json:"extension"`
	// Description is what the requester wrote, while the request is open
	// (null after close: it is erased with the rest of the PII).
	Description *string `json:"description"`
	// Outcome says how the request ended, in words; null while open.
	Outcome  *string    `json:"outcome"`
	Reasons  []string   `json:"reasons"`
	ClosedAt *time.Time `json:"closed_at"`
	// Package is the access package: null when none was published.
	Package *portalPackageJSON `json:"package"`
	// Appeal is the right to appeal the decision, then the appeal: null
	// when the request has none and cannot have one.
	Appeal *portalAppealJSON `json:"appeal"`
}

// portalExtension is a deadline extension: the new deadline and why.
type portalExtension struct {
	Deadline time.Time `json:"deadline"`
	Reason   string    `json:"reason"`
}

// portalRequestAbout is what the portal says of one request, for the API
// and the page alike.
type portalRequestAbout struct {
	store.PortalRequestDetail
	Description string // "" once closed or erased
	Outcome     string // "" while open
	Reasons     []string
}

// aboutRequest loads one of the requester's requests (someone else's is
// ENOTFOUND) with its description while it is open, and says how it ended
// once it is closed.
func (s *Server) aboutRequest(ctx context.Context, l locale.Lang, emailHash []byte, id string) (portalRequestAbout, error) {
	r, err := s.DB.PortalRequestDetail(ctx, emailHash, id)
	if err != nil {
		return portalRequestAbout{}, err
	}
	a := portalRequestAbout{PortalRequestDetail: r, Reasons: []string{}}
	if !r.Status.Closed() {
		pii, err := s.DB.RequestPII(ctx, s.Keys, r.ID)
		switch {
		case err == nil:
			a.Description = pii.Description
		case dsar.ErrorCode(err) != dsar.EGONE:
			return portalRequestAbout{}, err
		}
		return a, nil
	}
	rl, err := s.DB.RequestLocaleOf(ctx, r.ID)
	if err != nil {
		return portalRequestAbout{}, err
	}
	a.Outcome = requesterOutcome(l, r.Status, s.Config.AuthorityOf(rl.Jurisdiction, l).Name)
	for _, code := range r.CloseReasons {
		if reason := dsar.RejectReason(code); reason.Valid() {
			a.Reasons = append(a.Reasons, activities.RejectReasonIn(l, reason))
		}
	}
	return a, nil
}

// requesterOutcome says to the requester, in language l, how a closed
// request ended; authority is the supervisory authority they may complain
// to.
func requesterOutcome(l locale.Lang, st dsar.Status, authority string) string {
	switch st {
	case dsar.StatusCompleted, dsar.StatusExpired, dsar.StatusWithdrawn:
		return locale.T(l, "outcome."+string(st))
	case dsar.StatusRejected:
		return locale.T(l, "outcome.rejected", authority)
	}
	return locale.T(l, "outcome.closed")
}

// requesterStatusHelp says in a sentence, in language l, what a status
// means for the requester: what happens now and whether they need to do
// anything ("" for a closed request).
func requesterStatusHelp(l locale.Lang, st dsar.Status) string {
	if id := "help." + string(st); locale.Has(id) {
		return locale.T(l, id)
	}
	return ""
}

// portalAPIRequest is GET /api/v1/portal/requests/{id}.
func (s *Server) portalAPIRequest(c *gin.Context) {
	l := langOf(c)
	a, err := s.aboutRequest(c.Request.Context(), l, portalAccount(c).EmailHash, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	out := portalRequestJSON{ID: a.ID, Reference: dsar.Reference(a.ID), RequestType: a.RequestType, Status: a.Status,
		StatusLabel: requesterStatus(l, a.Status), SubmittedAt: a.SubmittedAt.UTC(), Deadline: a.Deadline.UTC(), Reasons: a.Reasons}
	if a.ExtendedAt != nil {
		out.Extension = &portalExtension{Deadline: a.Deadline.UTC(), Reason: a.ExtensionReason}
	}
	if a.Description != "" {
		out.Description = &a.Description
	}
	if a.Outcome != "" {
		out.Outcome = &a.Outcome
	}
	if a.ClosedAt != nil {
		out.ClosedAt = new(a.ClosedAt.UTC())
	}
	if out.Package, err = s.portalPackageOf(c, a.ID); err != nil {
		s.fail(c, err)
		return
	}
	if out.Appeal, err = s.portalAppealOf(c, l, a.ID); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// portalRequestFacts is what the request page says about the request
// besides its messages.
type portalRequestFacts struct {
	StatusHelp       string
	Description      string
	Extended         bool
	OriginalDeadline string
	ExtensionReason  string
	Closed           string // the date it closed, "" while open
	ClosedAt         string
	Outcome          string
	Reasons          []string
}

// requestFacts turns what the portal says of a request into the page's
// words, its dates those of zone loc.
func requestFacts(l locale.Lang, loc *time.Location, a portalRequestAbout) portalRequestFacts {
	f := portalRequestFacts{StatusHelp: requesterStatusHelp(l, a.Status), Description: a.Description,
		Extended: a.ExtendedAt != nil, ExtensionReason: a.ExtensionReason, Outcome: a.Outcome, Reasons: a.Reasons}
	if f.Extended {
		f.OriginalDeadline = locale.DateIn(l, a.OriginalDeadline, loc)
	}
	if a.ClosedAt != nil {
		f.Closed, f.ClosedAt = locale.DateIn(l, *a.ClosedAt, loc), a.ClosedAt.UTC().Format(time.RFC3339)
	}
	return f
}
