package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
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
func (s *Server) aboutRequest(ctx context.Context, emailHash []byte, id string) (portalRequestAbout, error) {
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
	a.Outcome = requesterOutcome(r.Status, s.Config.Company.AuthorityName)
	for _, code := range r.CloseReasons {
		if text, ok := dsar.RejectReasons[dsar.RejectReason(code)]; ok {
			a.Reasons = append(a.Reasons, text)
		}
	}
	return a, nil
}

// requesterOutcome says to the requester how a closed request ended.
func requesterOutcome(st dsar.Status, authority string) string {
	switch st {
	case dsar.StatusCompleted:
		return "We have completed your request."
	case dsar.StatusRejected:
		return "We closed your request without acting on it, for the reasons given. If you disagree, you may complain to " +
			authority + " or send us a new request."
	case dsar.StatusExpired:
		return "We closed your request because the email address was not confirmed in time. You are welcome to send a new request."
	case dsar.StatusWithdrawn:
		return "You withdrew this request, and we stopped working on it. You are welcome to send a new request at any time."
	}
	return "This request is closed."
}

// requesterStatusHelp says in a sentence what a status means for the
// requester: what happens now and whether they need to do anything.
func requesterStatusHelp(st dsar.Status) string {
	switch st {
	case dsar.StatusPendingEmailVerification:
		return "We sent you an email with a link to confirm your address. We start work once you have opened it."
	case dsar.StatusAwaitingIdentity:
		return "We are checking that the request comes from you. If we need anything more, we will write to you here."
	case dsar.StatusIdentityVerified:
		return "Your identity is confirmed, and we are passing the request to the teams that hold data about you."
	case dsar.StatusInProgress:
		return "The teams that hold data about you are working on the request."
	case dsar.StatusReadyToClose:
		return "The work is done; we are making the last checks before we close the request."
	}
	return ""
}

// portalAPIRequest is GET /api/v1/portal/requests/{id}.
func (s *Server) portalAPIRequest(c *gin.Context) {
	a, err := s.aboutRequest(c.Request.Context(), portalAccount(c).EmailHash, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	out := portalRequestJSON{ID: a.ID, Reference: requestRow(a.PortalRequest).Ref, RequestType: a.RequestType, Status: a.Status,
		StatusLabel: requesterStatus(a.Status), SubmittedAt: a.SubmittedAt.UTC(), Deadline: a.Deadline.UTC(), Reasons: a.Reasons}
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

// requestFacts turns what the portal says of a request into the page's words.
func requestFacts(a portalRequestAbout) portalRequestFacts {
	f := portalRequestFacts{StatusHelp: requesterStatusHelp(a.Status), Description: a.Description,
		Extended: a.ExtendedAt != nil, ExtensionReason: a.ExtensionReason, Outcome: a.Outcome, Reasons: a.Reasons}
	if f.Extended {
		f.OriginalDeadline = a.OriginalDeadline.UTC().Format(pageDate)
	}
	if a.ClosedAt != nil {
		f.Closed, f.ClosedAt = a.ClosedAt.UTC().Format(pageDate), a.ClosedAt.UTC().Format(time.RFC3339)
	}
	return f
}
