package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/fulfil"
	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/store"
)

// The access package's steps: built from the task files once every task is
// done, approved (perhaps without some files) by staff, published when the
// request completes, erased when it expires. Nothing of the requester's
// data crosses into the workflow: only ids, sizes and hashes.

// PackageBuild is what the package of a request is built from: the tasks'
// outcomes (the workflow's word) and, from the store, their files.
type PackageBuild struct {
	RequestID   string
	RequestType dsar.RequestType
	Tasks       []PackageTask
	At          time.Time // the package's date, in its manifest and zip entries
}

// PackageTask is one task's outcome, as the workflow holds it.
type PackageTask struct {
	DataSourceID string
	Outcome      dsar.TaskOutcome
	RecordCount  *int64
	CompletedAt  *time.Time
}

// PackageInfo is a stored package, as the workflow keeps it.
type PackageInfo struct {
	ID        string
	Status    string
	Size      int64
	SHA256    string
	FileIDs   []string
	ExpiresAt *time.Time `json:",omitempty"`
}

func infoOf(p store.Package) PackageInfo {
	return PackageInfo{ID: p.ID, Status: p.Status, Size: p.Size, SHA256: p.SHA256, FileIDs: slices.Clone([]string(p.FileIDs)),
		ExpiresAt: p.ExpiresAt}
}

// BuildPackage assembles the request's package from the files on its tasks
// (those not removed), streaming each file from the store into the zip and
// the zip into the store, and replaces any package not yet published.
func (a *Activities) BuildPackage(ctx context.Context, in PackageBuild) (PackageInfo, error) {
	files, err := a.DB.TaskFiles(ctx, a.Keys, in.RequestID)
	if err != nil {
		return PackageInfo{}, classify(err)
	}
	ids := make([]string, len(in.Tasks))
	for i, t := range in.Tasks {
		ids[i] = t.DataSourceID
	}
	names, err := a.DB.DataSourceNames(ctx, ids)
	if err != nil {
		return PackageInfo{}, classify(err)
	}
	m := &fulfil.Manifest{Reference: dsar.Reference(in.RequestID), RequestType: in.RequestType.Label(),
		Company: a.Config.Company.Name, GeneratedAt: in.At.UTC()}
	fileIDs := []string{}
	for _, t := range in.Tasks {
		s := fulfil.Source{Name: names[t.DataSourceID], Outcome: string(t.Outcome), OutcomeLabel: t.Outcome.Label(),
			RecordCount: t.RecordCount, CompletedAt: t.CompletedAt, Files: []fulfil.File{}}
		if s.Name == "" {
			s.Name = "Data source " + t.DataSourceID
		}
		for _, f := range files {
			if f.DataSourceID != t.DataSourceID || f.RemovedAt != nil {
				continue
			}
			s.Files = append(s.Files, fulfil.File{ID: f.ID, Name: f.Name, ContentType: f.ContentType, Size: f.Size, SHA256: f.SHA256})
			fileIDs = append(fileIDs, f.ID)
		}
		m.Sources = append(m.Sources, s)
	}
	open := func(id string) (io.ReadCloser, error) {
		activity.RecordHeartbeat(ctx, id)
		_, r, err := a.DB.OpenTaskFile(ctx, a.Keys, in.RequestID, id)
		if err != nil {
			return nil, err
		}
		return &beating{ReadCloser: r, ctx: ctx, id: id}, nil
	}
	p, err := a.DB.PutPackage(ctx, a.Keys, in.RequestID, fileIDs, func(w io.Writer) error {
		return fulfil.Write(w, m, open)
	})
	if errors.Is(err, fulfil.ErrChanged) || errors.Is(err, store.ErrCorrupt) {
		return PackageInfo{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalid, err)
	}
	if err != nil {
		return PackageInfo{}, classify(fmt.Errorf("activities: build package of %s: %w", in.RequestID, err))
	}
	return infoOf(p), nil
}

// beating is a file being copied into the package: it tells Temporal the
// build is alive every beatEvery bytes, so a large file is not taken for
// a stuck one.
type beating struct {
	io.ReadCloser
	ctx  context.Context
	id   string
	read int64
}

const beatEvery = 8 << 20

func (b *beating) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.read/beatEvery != (b.read+int64(n))/beatEvery {
		activity.RecordHeartbeat(b.ctx, b.id)
	}
	b.read += int64(n)
	return n, err
}

// RecordPackageFailure records why the request's package could not be
// built.
func (a *Activities) RecordPackageFailure(ctx context.Context, requestID, why string) error {
	return classify(a.DB.RecordPackageFailure(ctx, requestID, why))
}

// PackageApproval is a staff member's approval of a request's package,
// without the files they removed (which it is built again without).
type PackageApproval struct {
	Build          PackageBuild
	RemovedFileIDs []string
	Reason         string // why the files were removed: the approval's note
	Note           string
	By             string
}

// ApprovePackage marks the removed files, builds the package again when it
// still holds any of them, and approves it. Retried, it does the same.
func (a *Activities) ApprovePackage(ctx context.Context, in PackageApproval) (PackageInfo, error) {
	id := in.Build.RequestID
	if err := a.DB.RemoveTaskFiles(ctx, id, in.RemovedFileIDs, in.By, in.Reason); err != nil {
		return PackageInfo{}, classify(err)
	}
	p, err := a.DB.Package(ctx, id)
	if err != nil {
		return PackageInfo{}, classify(err)
	}
	packageID := p.ID // the workflow's own steps alone change it: this one, or an earlier attempt of this one
	stale := false
	for _, f := range in.RemovedFileIDs {
		stale = stale || slices.Contains(p.FileIDs, f)
	}
	if stale {
		info, err := a.BuildPackage(ctx, in.Build)
		if err != nil {
			return PackageInfo{}, err
		}
		packageID = info.ID
	}
	p, err = a.DB.ApprovePackage(ctx, id, packageID, in.By, in.Note)
	if err != nil {
		return PackageInfo{}, classify(err)
	}
	return infoOf(p), nil
}

// PublishPackage makes the request's approved package available to the
// requester until expiresAt.
func (a *Activities) PublishPackage(ctx context.Context, requestID string, expiresAt time.Time) (PackageInfo, error) {
	p, err := a.DB.PublishPackage(ctx, requestID, expiresAt)
	if err != nil {
		return PackageInfo{}, classify(err)
	}
	return infoOf(p), nil
}

// ExpirePackage erases the request's package: key and content.
func (a *Activities) ExpirePackage(ctx context.Context, requestID string) error {
	return classify(a.DB.ExpirePackage(ctx, requestID))
}

// DiscardPackage deletes the request's package not yet published.
func (a *Activities) DiscardPackage(ctx context.Context, requestID string) error {
	return classify(a.DB.DiscardPackage(ctx, requestID))
}

// completionData adds the answer to a completion mail's data: the
// package's size and expiry (its date in zone loc), or each data source's
// outcome.
func (a *Activities) completionData(ctx context.Context, l locale.Lang, loc *time.Location, m RequesterMail, data map[string]any) error {
	if m.Package != nil {
		data["Package"] = map[string]any{"Size": locale.SizeSI(l, m.Package.Size), "Expires": locale.DateIn(l, m.Package.ExpiresAt, loc)}
	}
	data["NothingToSend"] = m.NothingToSend
	if len(m.Sources) == 0 {
		return nil
	}
	ids := make([]string, len(m.Sources))
	for i, s := range m.Sources {
		ids[i] = s.DataSourceID
	}
	names, err := a.DB.DataSourceNames(ctx, ids)
	if err != nil {
		return classify(err)
	}
	type line struct {
		Name, Outcome string
		Records       *int64
	}
	lines := make([]line, len(m.Sources))
	for i, s := range m.Sources {
		lines[i] = line{Name: names[s.DataSourceID], Outcome: locale.T(l, "task."+string(s.Outcome)), Records: s.RecordCount}
	}
	data["Sources"] = lines
	return nil
}
