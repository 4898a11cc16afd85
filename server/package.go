package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// The access package: its review by staff, its approval (an action on the
// workflow) and its download, by staff and by the requester.

// maxRemovedFiles bounds one approval's removed files.
const maxRemovedFiles = 1000

// packageJSON is GET /api/v1/requests/{id}/package.
type packageJSON struct {
	ID           *string        `json:"id"`
	Status       string         `json:"status"`
	StatusLabel  string         `json:"status_label"`
	Size         int64          `json:"size"`
	SHA256       string         `json:"sha256"`
	BuiltAt      *time.Time     `json:"built_at"`
	ApprovedAt   *time.Time     `json:"approved_at"`
	ApprovedBy   *string        `json:"approved_by"`
	ApprovalNote *string        `json:"approval_note"`
	PublishedAt  *time.Time     `json:"published_at"`
	ExpiresAt    *time.Time     `json:"expires_at"`
	DownloadURL  *string        `json:"download_url"`
	Files        []taskFileJSON `json:"files"`
}

// packageOf loads a request's package for staff: ENOTFOUND when the request
// has none and will have none; status building while its tasks are done
// and it is not stored yet.
func (s *Server) packageOf(c *gin.Context, row store.Request) (packageJSON, error) {
	if !row.PackageRequired {
		return packageJSON{}, dsar.Errorf(dsar.ENOTFOUND, "only an access request has a package (this one is %s)", row.RequestType.Label())
	}
	out := packageJSON{Files: []taskFileJSON{}}
	p, err := s.DB.Package(c.Request.Context(), row.ID)
	switch {
	case dsar.ErrorCode(err) == dsar.ENOTFOUND && row.Status == dsar.StatusReadyToClose:
		out.Status = store.PackageBuilding
	case dsar.ErrorCode(err) == dsar.ENOTFOUND && row.Status.Closed():
		return packageJSON{}, dsar.Errorf(dsar.ENOTFOUND, "the request closed without a package")
	case dsar.ErrorCode(err) == dsar.ENOTFOUND:
		return packageJSON{}, dsar.Errorf(dsar.ENOTFOUND, "the package is built once every task is done")
	case err != nil:
		return packageJSON{}, err
	default:
		out.ID, out.Status, out.Size, out.SHA256, out.BuiltAt = &p.ID, p.Status, p.Size, p.SHA256, &p.BuiltAt
		out.ApprovedAt, out.ApprovedBy, out.ApprovalNote = p.ApprovedAt, p.ApprovedBy, p.ApprovalNote
		out.PublishedAt, out.ExpiresAt = p.PublishedAt, p.ExpiresAt
		if p.Status != store.PackageExpired {
			out.DownloadURL = new("/api/v1/requests/" + url.PathEscape(row.ID) + "/package/zip")
		}
	}
	out.StatusLabel = store.PackageStatusLabel(out.Status)
	files, err := s.taskFiles(c, row.ID)
	if err != nil {
		return packageJSON{}, err
	}
	for _, f := range files {
		f.Included = p.ID != "" && slices.Contains(p.FileIDs, f.ID)
		out.Files = append(out.Files, f)
	}
	return out, nil
}

// taskFiles lists a request's task files with their download links.
func (s *Server) taskFiles(c *gin.Context, requestID string) ([]taskFileJSON, error) {
	files, err := s.DB.TaskFiles(c.Request.Context(), s.Keys, requestID)
	if err != nil {
		return nil, err
	}
	out := make([]taskFileJSON, len(files))
	for i, f := range files {
		out[i] = taskFileJSON{TaskFile: f, URL: "/api/v1/requests/" + url.PathEscape(requestID) + "/tasks/" +
			url.PathEscape(f.DataSourceID) + "/files/" + url.PathEscape(f.ID)}
	}
	return out, nil
}

// getPackage is GET /api/v1/requests/{id}/package: the package's status,
// size, hash and review, and every task file (included in it or removed,
// with why).
func (s *Server) getPackage(c *gin.Context) {
	row, err := s.DB.Request(c.Request.Context(), c.Param("id"), "")
	if err != nil {
		s.fail(c, err)
		return
	}
	out, err := s.packageOf(c, row)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, out)
}

// packageZip is GET /api/v1/requests/{id}/package/zip: the package as the
// requester gets it, for its reviewer; every download audited.
func (s *Server) packageZip(c *gin.Context) {
	row, err := s.DB.Request(c.Request.Context(), c.Param("id"), "")
	if err != nil {
		s.fail(c, err)
		return
	}
	p, r, err := s.DB.OpenPackage(c.Request.Context(), s.Keys, row.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	defer r.Close()
	if err := s.auditStaff(c, row.ID, dsar.AuditPackageDownloaded, map[string]any{"package_id": p.ID, "sha256": p.SHA256}); err != nil {
		s.fail(c, err)
		return
	}
	s.sendStream(c, packageFileName(row.ID), "application/zip", p.Size, r)
}

// packageFileName is the downloaded package's name.
func packageFileName(requestID string) string {
	return "your-data-" + strings.ToLower(dsar.Reference(requestID)) + ".zip"
}

// approvePackage is POST /api/v1/requests/{id}/package/approval {"note",
// "removed_file_ids"}: the reviewer approves the package, without the
// files they remove (the note says why). An action: 200 once the workflow
// has built it again without them and approved it.
func (s *Server) approvePackage(c *gin.Context) {
	var in struct {
		Note           string   `json:"note"`
		RemovedFileIDs []string `json:"removed_file_ids"`
	}
	if err := bindOptionalJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	bad := map[string]string{}
	checkNote(bad, in.Note)
	ids := make([]string, 0, len(in.RemovedFileIDs))
	for _, id := range in.RemovedFileIDs {
		u, err := uuid.Parse(id)
		if err != nil {
			bad["removed_file_ids"] = fmt.Sprintf("%q is not a file id", id)
			continue
		}
		if !slices.Contains(ids, u.String()) {
			ids = append(ids, u.String())
		}
	}
	if len(ids) > maxRemovedFiles {
		bad["removed_file_ids"] = fmt.Sprintf("name at most %d files", maxRemovedFiles)
	}
	if len(ids) > 0 && strings.TrimSpace(in.Note) == "" {
		bad["note"] = "say why the files are removed"
	}
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	p := workflows.PackageApproval{Note: strings.TrimSpace(in.Note), RemovedFileIDs: ids, By: staffUser(c).ID}
	s.takeAction(c, workflows.SignalPackageApproved, func(a workflows.Action) any { p.Action = a; return p })
}

// checkNothingToSend validates a completion's nothing_to_send.
func checkNothingToSend(bad map[string]string, reason string) {
	if utf8.RuneCountInString(reason) > maxNote {
		bad["nothing_to_send"] = fmt.Sprintf("must be at most %d characters", maxNote)
	}
}

// portalPackage is GET /api/v1/portal/requests/{id}/package (and the
// page's link): the requester's published package; 404 when there is none
// (yet), 410 once it expired. Every download audited.
func (s *Server) portalPackage(c *gin.Context) {
	acc := portalAccount(c)
	r, err := s.DB.PortalRequest(c.Request.Context(), acc.EmailHash, c.Param("id"))
	if err != nil {
		s.portalFail(c, err)
		return
	}
	p, content, err := s.DB.OpenPackage(c.Request.Context(), s.Keys, r.ID)
	if err == nil && p.Status != store.PackagePublished {
		content.Close()
		err = dsar.Errorf(dsar.ENOTFOUND, "there is no download for this request (yet)")
	}
	if dsar.ErrorCode(err) == dsar.EGONE && p.ExpiresAt != nil {
		err = dsar.Errorf(dsar.EGONE, "the download expired on %s and was erased", p.ExpiresAt.UTC().Format("2 January 2006"))
	}
	if err != nil {
		s.portalFail(c, err)
		return
	}
	defer content.Close()
	if _, err := s.DB.AppendAudit(c.Request.Context(), store.Audit{RequestID: r.ID, ActorKind: store.ActorRequester, ActorID: acc.ID,
		Action: dsar.AuditPackageDownloaded, Detail: map[string]any{"package_id": p.ID, "sha256": p.SHA256}}); err != nil {
		s.fail(c, err)
		return
	}
	s.sendStream(c, packageFileName(r.ID), "application/zip", p.Size, content)
}

// portalPackageJSON is the package in the portal's request: whether it
// can be downloaded, until when, and how large.
type portalPackageJSON struct {
	Available bool       `json:"available"`
	ExpiresAt *time.Time `json:"expires_at"`
	Size      int64      `json:"size"`
	URL       string     `json:"url,omitempty"`
}

// portalPackageOf is what the portal says of a request's package: nil when
// none was published.
func (s *Server) portalPackageOf(c *gin.Context, requestID string) (*portalPackageJSON, error) {
	p, err := s.DB.Package(c.Request.Context(), requestID)
	switch {
	case dsar.ErrorCode(err) == dsar.ENOTFOUND:
		return nil, nil
	case err != nil:
		return nil, err
	case p.Status != store.PackagePublished && p.Status != store.PackageExpired:
		return nil, nil
	}
	// Past its date it is gone for the requester even before the workflow
	// has erased it (the download answers 410 too).
	live := p.Status == store.PackagePublished && (p.ExpiresAt == nil || p.ExpiresAt.After(time.Now()))
	out := &portalPackageJSON{Available: live, ExpiresAt: p.ExpiresAt, Size: p.Size}
	if out.Available {
		out.URL = "/api/v1/portal/requests/" + url.PathEscape(requestID) + "/package"
	}
	return out, nil
}
