package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// put builds a package whose content is data.
func (w *fileWorld) put(requestID string, data []byte, fileIDs ...string) (store.Package, error) {
	return w.db.PutPackage(w.ctx, w.keys, requestID, fileIDs, func(out io.Writer) error {
		// Written in odd pieces, as a zip writer does.
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 70000)
			if _, err := out.Write(rest[:n]); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
}

// openPackage reads a request's package whole.
func (w *fileWorld) openPackage(requestID string) (store.Package, []byte, error) {
	w.t.Helper()
	p, r, err := w.db.OpenPackage(w.ctx, w.keys, requestID)
	if err != nil {
		return p, nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	return p, data, err
}

func (w *fileWorld) pkg(requestID string) store.Package {
	w.t.Helper()
	p, err := w.db.Package(w.ctx, requestID)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func TestPackageLifecycle(t *testing.T) {
	w := newFileWorld(t)
	id := w.request(w.source)
	f, err := w.add(id, w.source, "export.csv", export(100), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.Package(w.ctx, id); dsar.ErrorCode(err) != dsar.ENOTFOUND {
		t.Fatalf("no package yet: want ENOTFOUND, got %v", err)
	}
	data := export(2*store.ChunkSize + 777)
	p, err := w.put(id, data, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != store.PackageReady || p.Size != int64(len(data)) || p.SHA256 != sum(data) || p.Chunks != 3 ||
		len(p.FileIDs) != 1 || p.FileIDs[0] != f.ID {
		t.Fatalf("built %+v", p)
	}
	if got := w.pkg(id); got.ID != p.ID || got.Status != store.PackageReady || got.SHA256 != p.SHA256 || got.Size != p.Size {
		t.Fatalf("stored %+v", got)
	}
	if _, got, err := w.openPackage(id); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes of %d: %v", len(got), len(data), err)
	}
	var chunks [][]byte
	if err := w.db.Select(&chunks, `SELECT sealed FROM package_chunks WHERE package_id = $1`, p.ID); err != nil {
		t.Fatal(err)
	}
	for i, c := range chunks {
		if bytes.Contains(c, []byte("alice@example.net")) {
			t.Errorf("package chunk %d holds the requester's address in the clear", i)
		}
	}

	// Not published before it is approved.
	if _, err := w.db.PublishPackage(w.ctx, id, time.Now().Add(time.Hour)); dsar.ErrorCode(err) != dsar.ECONFLICT {
		t.Fatalf("publish before approval: want ECONFLICT, got %v", err)
	}
	if got := w.pkg(id); got.Status != store.PackageReady || got.PublishedAt != nil {
		t.Fatalf("after the refused publish: %+v", got)
	}
	// Approving another package is refused.
	if _, err := w.db.ApprovePackage(w.ctx, id, uuid.NewString(), w.user.ID, "ok"); dsar.ErrorCode(err) != dsar.ECONFLICT {
		t.Fatalf("approving another package: want ECONFLICT, got %v", err)
	}

	a, err := w.db.ApprovePackage(w.ctx, id, p.ID, w.user.ID, "checked every file")
	if err != nil || a.Status != store.PackageApproved || a.ApprovedAt == nil || a.ApprovedBy == nil || *a.ApprovedBy != w.user.ID ||
		a.ApprovalNote == nil || *a.ApprovalNote != "checked every file" {
		t.Fatalf("approved %+v %v", a, err)
	}
	again, err := w.db.ApprovePackage(w.ctx, id, p.ID, w.user.ID, "checked again")
	if err != nil || !again.ApprovedAt.Equal(*a.ApprovedAt) || again.Status != store.PackageApproved {
		t.Fatalf("approved again: %+v %v (first at %v)", again, err, a.ApprovedAt)
	}

	expires := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	pub, err := w.db.PublishPackage(w.ctx, id, expires)
	if err != nil || pub.Status != store.PackagePublished || pub.PublishedAt == nil || pub.ExpiresAt == nil || !pub.ExpiresAt.Equal(expires) {
		t.Fatalf("published %+v %v", pub, err)
	}
	pub2, err := w.db.PublishPackage(w.ctx, id, expires.Add(time.Hour))
	if err != nil || !pub2.PublishedAt.Equal(*pub.PublishedAt) || !pub2.ExpiresAt.Equal(expires) {
		t.Errorf("published again: %+v %v", pub2, err)
	}
	if _, err := w.db.ApprovePackage(w.ctx, id, p.ID, w.user.ID, "late"); dsar.ErrorCode(err) != dsar.ECONFLICT {
		t.Errorf("approving a published package: want ECONFLICT, got %v", err)
	}
	if err := w.db.DiscardPackage(w.ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := w.pkg(id); got.Status != store.PackagePublished {
		t.Fatalf("a published package discarded: %+v", got)
	}
	if _, got, err := w.openPackage(id); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("published package read back %d bytes: %v", len(got), err)
	}

	// Expired: key and content gone, the row kept as the record.
	if err := w.db.ExpirePackage(w.ctx, id); err != nil {
		t.Fatal(err)
	}
	e := w.pkg(id)
	if e.Status != store.PackageExpired || e.ExpiredAt == nil || e.KeyID != nil || e.WrappedKey != nil ||
		e.Size != p.Size || e.SHA256 != p.SHA256 || e.ID != p.ID || !e.PublishedAt.Equal(*pub.PublishedAt) {
		t.Fatalf("expired %+v", e)
	}
	if n := w.count(`SELECT count(*) FROM package_chunks WHERE package_id = $1`, p.ID); n != 0 {
		t.Errorf("%d chunks left after expiry", n)
	}
	if n := w.count(`SELECT count(*) FROM packages WHERE request_id = $1 AND key_id IS NULL AND wrapped_key IS NULL`, id); n != 1 {
		t.Errorf("the package's key survived its expiry")
	}
	if _, _, err := w.db.OpenPackage(w.ctx, w.keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("OpenPackage after expiry: want EGONE, got %v", err)
	}
	if err := w.db.ExpirePackage(w.ctx, id); err != nil {
		t.Fatalf("expiring again: %v", err)
	}
	if got := w.pkg(id); !got.ExpiredAt.Equal(*e.ExpiredAt) {
		t.Errorf("expiring again moved expired_at from %v to %v", e.ExpiredAt, got.ExpiredAt)
	}
	if _, err := w.put(id, []byte("PK again")); dsar.ErrorCode(err) != dsar.ECONFLICT {
		t.Errorf("rebuilding an expired package: want ECONFLICT, got %v", err)
	}
	if _, err := w.db.PublishPackage(w.ctx, id, expires); err != nil {
		t.Errorf("publishing an expired package: %v", err)
	}
	if got := w.pkg(id); got.Status != store.PackageExpired {
		t.Errorf("an expired package became %s", got.Status)
	}
	// Nothing to expire is fine.
	if err := w.db.ExpirePackage(w.ctx, w.request(w.source)); err != nil {
		t.Errorf("expiring a request without a package: %v", err)
	}
}

// TestPutPackageRefusesToReplaceAPublishedOne: the requester's download
// never changes under them.
func TestPutPackageRefusesToReplaceAPublishedOne(t *testing.T) {
	w := newFileWorld(t)
	id := w.request(w.source)
	data := export(store.ChunkSize + 5)
	p, err := w.put(id, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.ApprovePackage(w.ctx, id, p.ID, w.user.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.PublishPackage(w.ctx, id, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	chunks := w.count(`SELECT count(*) FROM package_chunks`)
	if _, err := w.put(id, export(3*store.ChunkSize)); dsar.ErrorCode(err) != dsar.ECONFLICT {
		t.Fatalf("replacing a published package: want ECONFLICT, got %v", err)
	}
	got, content, err := w.openPackage(id)
	if err != nil || got.ID != p.ID || got.Status != store.PackagePublished || !bytes.Equal(content, data) {
		t.Fatalf("the published package after the refused rebuild: %+v (%d bytes) %v", got, len(content), err)
	}
	if n := w.count(`SELECT count(*) FROM package_chunks`); n != chunks {
		t.Errorf("%d package chunks, %d before the refused rebuild", n, chunks)
	}
	if n := w.count(`SELECT count(*) FROM packages`); n != 1 {
		t.Errorf("%d packages", n)
	}
}

// TestPutPackageReplacesAnUnpublishedOne: a rebuild replaces the package
// and its content, and its review starts again.
func TestPutPackageReplacesAnUnpublishedOne(t *testing.T) {
	w := newFileWorld(t)
	id := w.request(w.source)
	first, err := w.put(id, export(2*store.ChunkSize))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.ApprovePackage(w.ctx, id, first.ID, w.user.ID, "fine"); err != nil {
		t.Fatal(err)
	}
	data := export(store.ChunkSize / 2)
	second, err := w.put(id, data)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID == first.ID || second.Status != store.PackageReady {
		t.Fatalf("rebuilt %+v", second)
	}
	got := w.pkg(id)
	if got.ID != second.ID || got.Status != store.PackageReady || got.ApprovedAt != nil || got.ApprovedBy != nil {
		t.Fatalf("the rebuilt package keeps the old approval: %+v", got)
	}
	if n := w.count(`SELECT count(*) FROM package_chunks WHERE package_id = $1`, first.ID); n != 0 {
		t.Errorf("%d chunks of the replaced package left", n)
	}
	if _, content, err := w.openPackage(id); err != nil || !bytes.Equal(content, data) {
		t.Fatalf("read back %d bytes: %v", len(content), err)
	}
	// The approval of what was reviewed does not carry to the rebuild.
	if _, err := w.db.ApprovePackage(w.ctx, id, first.ID, w.user.ID, "stale"); dsar.ErrorCode(err) != dsar.ECONFLICT {
		t.Errorf("approving the replaced package: want ECONFLICT, got %v", err)
	}
	if got := w.pkg(id); got.Status != store.PackageReady {
		t.Errorf("a stale approval changed the package to %s", got.Status)
	}
}

// TestPutPackageFailingKeepsThePrevious: a build whose writer fails stores
// nothing and leaves the package it would have replaced.
func TestPutPackageFailingKeepsThePrevious(t *testing.T) {
	w := newFileWorld(t)
	id := w.request(w.source)
	data := export(1000)
	p, err := w.put(id, data)
	if err != nil {
		t.Fatal(err)
	}
	chunks := w.count(`SELECT count(*) FROM package_chunks`)
	boom := errors.New("a file changed")
	_, err = w.db.PutPackage(w.ctx, w.keys, id, nil, func(out io.Writer) error {
		if _, err := out.Write(export(3 * store.ChunkSize)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("a failing build: got %v", err)
	}
	got, content, err := w.openPackage(id)
	if err != nil || got.ID != p.ID || !bytes.Equal(content, data) {
		t.Fatalf("the previous package after the failed build: %+v %v", got, err)
	}
	if n := w.count(`SELECT count(*) FROM package_chunks`); n != chunks {
		t.Errorf("%d package chunks, %d before the failed build", n, chunks)
	}
	// A first build failing leaves no package at all.
	other := w.request(w.source)
	if _, err := w.db.PutPackage(w.ctx, w.keys, other, nil, func(io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("a failing first build: got %v", err)
	}
	if _, err := w.db.Package(w.ctx, other); dsar.ErrorCode(err) != dsar.ENOTFOUND {
		t.Errorf("after a failing first build: want ENOTFOUND, got %v", err)
	}
}

func TestDiscardPackage(t *testing.T) {
	w := newFileWorld(t)
	for _, approve := range []bool{false, true} {
		id := w.request(w.source)
		p, err := w.put(id, export(store.ChunkSize+1))
		if err != nil {
			t.Fatal(err)
		}
		if approve {
			if _, err := w.db.ApprovePackage(w.ctx, id, p.ID, w.user.ID, ""); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.db.DiscardPackage(w.ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.Package(w.ctx, id); dsar.ErrorCode(err) != dsar.ENOTFOUND {
			t.Errorf("approved %v, discarded: want ENOTFOUND, got %v", approve, err)
		}
		if n := w.count(`SELECT count(*) FROM package_chunks WHERE package_id = $1`, p.ID); n != 0 {
			t.Errorf("approved %v, discarded: %d chunks left", approve, n)
		}
		if err := w.db.DiscardPackage(w.ctx, id); err != nil {
			t.Errorf("discarding nothing: %v", err)
		}
		// Files can be added again once the package is discarded.
		if _, err := w.add(id, w.source, "late.csv", export(10), 0); err != nil {
			t.Errorf("a file after the package was discarded: %v", err)
		}
	}
}

// TestPackageOutlivesTheScrub: the package is under its own key, so the
// erasure at close leaves it readable until it expires.
func TestPackageOutlivesTheScrub(t *testing.T) {
	w := newFileWorld(t)
	id := w.request(w.source)
	f, err := w.add(id, w.source, "export.csv", export(10), 0)
	if err != nil {
		t.Fatal(err)
	}
	data := export(store.ChunkSize + 3)
	p, err := w.put(id, data, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.ApprovePackage(w.ctx, id, p.ID, w.user.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.PublishPackage(w.ctx, id, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	w.exec(`UPDATE requests SET status = 'completed' WHERE id = $1`, id)
	if err := w.db.ScrubRequest(w.ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, content, err := w.openPackage(id); err != nil || !bytes.Equal(content, data) {
		t.Fatalf("the package after the scrub: %d bytes, %v", len(content), err)
	}
	if err := w.db.ExpirePackage(w.ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.db.OpenPackage(w.ctx, w.keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("after expiry: want EGONE, got %v", err)
	}
}

// TestPutPackageWriterFailingWithEOFFails: a build whose writer fails with
// an error that wraps io.EOF or io.ErrUnexpectedEOF (a reader cut short on
// the way, wrapped with %w as fulfil and the store do) failed; the zip cut
// short is not stored as the package.
func TestPutPackageWriterFailingWithEOFFails(t *testing.T) {
	w := newFileWorld(t)
	for _, cause := range []error{io.ErrUnexpectedEOF, io.EOF} {
		id := w.request(w.source)
		fail := fmt.Errorf("fulfil: copy files/CRM/export.csv: store: task file 1 chunk 2: %w", cause)
		p, err := w.db.PutPackage(w.ctx, w.keys, id, nil, func(out io.Writer) error {
			if _, err := out.Write(export(store.ChunkSize + 10)); err != nil {
				return err
			}
			return fail
		})
		if err == nil {
			t.Errorf("a build failing with %q stored a package of %d bytes", fail, p.Size)
		}
		if _, err := w.db.Package(w.ctx, id); dsar.ErrorCode(err) != dsar.ENOTFOUND {
			t.Errorf("after a build failing with %v: want no package, got %v", cause, err)
		}
	}
}
