package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// fileWorld is a database with a staff member owning a data source, for
// the task file and package tests.
type fileWorld struct {
	t      *testing.T
	ctx    context.Context
	db     *store.DB
	keys   *crypto.Keyring
	user   store.User
	source string
}

func newFileWorld(t *testing.T) *fileWorld {
	t.Helper()
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)), nil, "")
	w := &fileWorld{t: t, ctx: context.Background(), db: testenv.DB(t), keys: keys}
	u, err := w.db.CreateUser(w.ctx, store.User{Email: "owner@example.com", Name: "Owner", Role: dsar.RoleSourceOwner, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	w.user = u
	d, err := w.db.CreateDataSource(w.ctx, "CRM", "", []string{u.ID})
	if err != nil {
		t.Fatal(err)
	}
	w.source = d.ID
	return w
}

// request adds an accepted access request (info) in progress with an open task
// on each source.
func (w *fileWorld) request(sources ...string) string {
	w.t.Helper()
	id := insertRequest(w.t, w.db, w.keys, store.PII{FirstName: "Alice", LastName: "Liddell", Email: "alice@example.net"}, nil)
	w.exec(`UPDATE requests SET status = 'in_progress' WHERE id = $1`, id)
	for _, s := range sources {
		w.exec(`INSERT INTO tasks (request_id, data_source_id, assigned_at, last_activity_at) VALUES ($1, $2, now(), now())`, id, s)
	}
	return id
}

func (w *fileWorld) exec(q string, args ...any) {
	w.t.Helper()
	if _, err := w.db.Exec(q, args...); err != nil {
		w.t.Fatal(err)
	}
}

func (w *fileWorld) count(q string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.db.Get(&n, q, args...); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// rows are how many task files, chunks and upload audit rows there are.
func (w *fileWorld) rows() [3]int {
	return [3]int{
		w.count(`SELECT count(*) FROM task_files`),
		w.count(`SELECT count(*) FROM task_file_chunks`),
		w.count(`SELECT count(*) FROM audit_events WHERE action = $1`, dsar.AuditTaskFileUploaded),
	}
}

func (w *fileWorld) add(requestID, source, name string, data []byte, maxSize int64) (store.TaskFile, error) {
	return w.db.AddTaskFile(w.ctx, w.keys, store.NewTaskFile{RequestID: requestID, DataSourceID: source, Name: name,
		ContentType: "text/csv", UploadedBy: w.user.ID, Content: bytes.NewReader(data), MaxSize: maxSize})
}

// read opens a task file and reads it whole.
func (w *fileWorld) read(requestID, fileID string) (store.TaskFile, []byte) {
	w.t.Helper()
	f, r, err := w.db.OpenTaskFile(w.ctx, w.keys, requestID, fileID)
	if err != nil {
		w.t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		w.t.Fatal(err)
	}
	return f, data
}

// export is size bytes of a CSV export naming the requester on every line,
// with random bytes between so that chunks differ.
func export(size int) []byte {
	r := rand.New(rand.NewPCG(uint64(size), 1))
	var b bytes.Buffer
	for b.Len() < size {
		b.WriteString("alice@example.net,Alice Liddell,")
		for range 40 {
			b.WriteByte('a' + byte(r.UintN(26)))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()[:size]
}

func sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func TestTaskFileAddedReadBackAndSealed(t *testing.T) {
	w := newFileWorld(t)
	id := w.request(w.source)
	const name = "Alice Liddell - CRM export.csv"
	data := export(2*store.ChunkSize + 12345)
	f, err := w.add(id, w.source, name, data, 0)
	if err != nil {
		t.Fatal(err)
	}
	if f.Size != int64(len(data)) || f.SHA256 != sum(data) || f.Chunks != 3 || f.Name != name || f.DataSourceID != w.source ||
		f.UploadedBy == nil || *f.UploadedBy != w.user.ID {
		t.Fatalf("added %+v", f)
	}

	got, content := w.read(id, f.ID)
	if !bytes.Equal(content, data) || sum(content) != f.SHA256 {
		t.Fatalf("read back %d bytes, want %d; sha256 %s, want %s", len(content), len(data), sum(content), f.SHA256)
	}
	if got.Name != name || got.Size != f.Size || got.SHA256 != f.SHA256 || got.ContentType != "text/csv" {
		t.Errorf("opened %+v", got)
	}
	files, err := w.db.TaskFiles(w.ctx, w.keys, id)
	if err != nil || len(files) != 1 || files[0].ID != f.ID || files[0].Name != name || files[0].RemovedAt != nil {
		t.Fatalf("TaskFiles: %+v %v", files, err)
	}

	// Neither the name nor the content is stored in the clear.
	var sealedName []byte
	if err := w.db.Get(&sealedName, `SELECT name FROM task_files WHERE id = $1`, f.ID); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{name, "Alice", "Liddell"} {
		if bytes.Contains(sealedName, []byte(s)) {
			t.Errorf("task_files.name holds %q in the clear", s)
		}
	}
	var chunks [][]byte
	if err := w.db.Select(&chunks, `SELECT sealed FROM task_file_chunks WHERE file_id = $1 ORDER BY seq`, f.ID); err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 3 {
		t.Fatalf("%d chunks stored, want 3", len(chunks))
	}
	for i, c := range chunks {
		for _, s := range [][]byte{[]byte("alice@example.net"), []byte(name), data[len(data)-64:], data[store.ChunkSize : store.ChunkSize+64]} {
			if bytes.Contains(c, s) {
				t.Errorf("chunk %d holds %.20q in the clear", i, s)
			}
		}
	}
	// The upload is audited, naming the file by id and hash, not by name.
	evs, err := w.db.RequestAudit(w.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var audited bool
	for _, e := range evs {
		if e.Action == dsar.AuditTaskFileUploaded {
			audited = true
			var detail map[string]any
			if err := json.Unmarshal(e.Detail, &detail); err != nil {
				t.Fatal(err)
			}
			if e.ActorID != w.user.ID || detail["file_id"] != f.ID || detail["sha256"] != f.SHA256 {
				t.Errorf("audit row %+v", e)
			}
			if bytes.Contains(e.Detail, []byte("Liddell")) {
				t.Errorf("the audit row names the file: %s", e.Detail)
			}
		}
	}
	if !audited {
		t.Error("the upload is not audited")
	}

	// Another request's file, or junk ids, are not found.
	other := w.request(w.source)
	for _, ids := range [][2]string{{other, f.ID}, {id, uuid.NewString()}, {id, "not-a-uuid"}, {"x", f.ID}} {
		if _, _, err := w.db.OpenTaskFile(w.ctx, w.keys, ids[0], ids[1]); dsar.ErrorCode(err) != dsar.ENOTFOUND {
			t.Errorf("OpenTaskFile(%s, %s): want ENOTFOUND, got %v", ids[0], ids[1], err)
		}
	}
}

func TestTaskFileEmptyAndChunkSized(t *testing.T) {
	w := newFileWorld(t)
	id := w.request(w.source)
	for _, size := range []int{0, 1, store.ChunkSize, store.ChunkSize + 1} {
		data := export(size)
		f, err := w.add(id, w.source, "export.csv", data, 0)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if _, got := w.read(id, f.ID); !bytes.Equal(got, data) || f.SHA256 != sum(data) {
			t.Errorf("%d bytes read back as %d", size, len(got))
		}
	}
	if n := w.count(`SELECT count(*) FROM task_files WHERE request_id = $1`, id); n != 4 {
		t.Errorf("%d files, want 4", n)
	}
}

// TestTaskFileRefusedLeavesNothing: each refusal has its code and leaves no
// file, chunk or audit row.
func TestTaskFileRefusedLeavesNothing(t *testing.T) {
	w := newFileWorld(t)
	other, err := w.db.CreateDataSource(w.ctx, "Billing", "", []string{w.user.ID})
	if err != nil {
		t.Fatal(err)
	}
	data := export(store.ChunkSize + 10)
	for _, tc := range []struct {
		name   string
		code   string
		setup  func(id string) (requestID, source string)
		reader func() io.Reader
	}{
		{name: "task completed", code: dsar.ECONFLICT, setup: func(id string) (string, string) {
			w.exec(`UPDATE tasks SET status = 'completed', completed_at = now() WHERE request_id = $1`, id)
			return id, w.source
		}},
		{name: "request completed", code: dsar.ECONFLICT, setup: func(id string) (string, string) {
			w.exec(`UPDATE requests SET status = 'completed' WHERE id = $1`, id)
			return id, w.source
		}},
		{name: "request withdrawn", code: dsar.ECONFLICT, setup: func(id string) (string, string) {
			w.exec(`UPDATE requests SET status = 'withdrawn' WHERE id = $1`, id)
			return id, w.source
		}},
		{name: "request rejected", code: dsar.ECONFLICT, setup: func(id string) (string, string) {
			w.exec(`UPDATE requests SET status = 'rejected' WHERE id = $1`, id)
			return id, w.source
		}},
		{name: "request expired", code: dsar.ECONFLICT, setup: func(id string) (string, string) {
			w.exec(`UPDATE requests SET status = 'expired' WHERE id = $1`, id)
			return id, w.source
		}},
		{name: "package built", code: dsar.ECONFLICT, setup: func(id string) (string, string) {
			if _, err := w.db.PutPackage(w.ctx, w.keys, id, nil, func(w io.Writer) error {
				_, err := w.Write([]byte("PK"))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return id, w.source
		}},
		{name: "no task on that source", code: dsar.ENOTFOUND, setup: func(id string) (string, string) { return id, other.ID }},
		{name: "no such source", code: dsar.ENOTFOUND, setup: func(id string) (string, string) { return id, uuid.NewString() }},
		{name: "source id not a uuid", code: dsar.ENOTFOUND, setup: func(id string) (string, string) { return id, "crm" }},
		{name: "no such request", code: dsar.ENOTFOUND, setup: func(string) (string, string) { return uuid.NewString(), w.source }},
		{name: "request id not a uuid", code: dsar.ENOTFOUND, setup: func(string) (string, string) { return "REQ-1", w.source }},
		{name: "request not accepted", code: dsar.ENOTFOUND, setup: func(id string) (string, string) {
			w.exec(`UPDATE requests SET accepted = false WHERE id = $1`, id)
			return id, w.source
		}},
		{name: "body cut short", code: dsar.EINTERNAL, setup: func(id string) (string, string) { return id, w.source },
			reader: func() io.Reader {
				return io.MultiReader(bytes.NewReader(data), errReader{errors.New("connection reset")})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rid, source := tc.setup(w.request(w.source))
			before := w.rows()
			r := io.Reader(bytes.NewReader(data))
			if tc.reader != nil {
				r = tc.reader()
			}
			f, err := w.db.AddTaskFile(w.ctx, w.keys, store.NewTaskFile{RequestID: rid, DataSourceID: source, Name: "export.csv",
				ContentType: "text/csv", UploadedBy: w.user.ID, Content: r})
			if err == nil || dsar.ErrorCode(err) != tc.code {
				t.Fatalf("got %+v, %v; want %s", f, err, tc.code)
			}
			if after := w.rows(); after != before {
				t.Errorf("files, chunks, audit rows: %v before, %v after", before, after)
			}
		})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestTaskFileTooLargeLeavesNothing(t *testing.T) {
	w := newFileWorld(t)
	id := w.request(w.source)
	const limit = 2*store.ChunkSize + 100
	before := w.rows()
	for _, size := range []int{limit + 1, 3 * store.ChunkSize, 10 * store.ChunkSize} {
		if _, err := w.add(id, w.source, "big.csv", export(size), limit); dsar.ErrorCode(err) != dsar.ETOOLARGE {
			t.Fatalf("%d bytes past a limit of %d: want ETOOLARGE, got %v", size, limit, err)
		}
		if after := w.rows(); after != before {
			t.Errorf("%d bytes refused: files, chunks, audit rows %v before, %v after", size, before, after)
		}
	}
	data := export(limit)
	f, err := w.add(id, w.source, "big.csv", data, limit)
	if err != nil {
		t.Fatalf("a file at the limit: %v", err)
	}
	if _, got := w.read(id, f.ID); !bytes.Equal(got, data) {
		t.Error("the file at the limit reads back different")
	}
}

// TestScrubRequestRemovesTaskFiles: the erasure at close deletes every
// task file and its chunks; other requests' files stay.
func TestScrubRequestRemovesTaskFiles(t *testing.T) {
	w := newFileWorld(t)
	id, kept := w.request(w.source), w.request(w.source)
	for _, rid := range []string{id, id, kept} {
		if _, err := w.add(rid, w.source, "export.csv", export(store.ChunkSize+1), 0); err != nil {
			t.Fatal(err)
		}
	}
	f0 := w.files(id)[0]
	w.exec(`UPDATE requests SET status = 'completed' WHERE id = $1`, id)
	if err := w.db.ScrubRequest(w.ctx, id); err != nil {
		t.Fatal(err)
	}
	if n := w.count(`SELECT count(*) FROM task_files WHERE request_id = $1`, id); n != 0 {
		t.Errorf("%d task files left after the scrub", n)
	}
	if n := w.count(`SELECT count(*) FROM task_file_chunks c JOIN task_files f ON f.id = c.file_id WHERE f.request_id = $1`, id); n != 0 {
		t.Errorf("%d chunks left after the scrub", n)
	}
	if n := w.count(`SELECT count(*) FROM task_file_chunks WHERE file_id = $1`, f0.ID); n != 0 {
		t.Errorf("%d chunks of a scrubbed file left", n)
	}
	if files := w.files(id); len(files) != 0 {
		t.Errorf("TaskFiles after the scrub: %+v", files)
	}
	if _, _, err := w.db.OpenTaskFile(w.ctx, w.keys, id, f0.ID); err == nil {
		t.Error("a scrubbed file opens")
	}
	if files := w.files(kept); len(files) != 1 {
		t.Errorf("another request's files: %+v", files)
	}
	if n := w.count(`SELECT count(*) FROM task_file_chunks`); n != 2 {
		t.Errorf("%d chunks in all, want the other request's 2", n)
	}
}

func (w *fileWorld) files(requestID string) []store.TaskFile {
	w.t.Helper()
	files, err := w.db.TaskFiles(w.ctx, w.keys, requestID)
	if err != nil {
		w.t.Fatal(err)
	}
	return files
}

func TestRemoveTaskFilesKeepsTheFirstRemoval(t *testing.T) {
	w := newFileWorld(t)
	id := w.request(w.source)
	var ids []string
	for _, name := range []string{"a.csv", "b.csv", "c.csv"} {
		f, err := w.add(id, w.source, name, export(100), 0)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, f.ID)
	}
	if err := w.db.RemoveTaskFiles(w.ctx, id, ids[:2], w.user.ID, "another customer's data"); err != nil {
		t.Fatal(err)
	}
	first := w.files(id)
	if err := w.db.RemoveTaskFiles(w.ctx, id, ids[1:], "", "again"); err != nil {
		t.Fatal(err)
	}
	// A file of another request is not removed through this one.
	other := w.request(w.source)
	of, err := w.add(other, w.source, "d.csv", export(10), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.db.RemoveTaskFiles(w.ctx, id, []string{of.ID}, "", "wrong request"); err != nil {
		t.Fatal(err)
	}
	if f := w.files(other)[0]; f.RemovedAt != nil {
		t.Errorf("another request's file removed: %+v", f)
	}
	files := w.files(id)
	for i, f := range files {
		switch i {
		case 0, 1:
			if f.RemovedAt == nil || !f.RemovedAt.Equal(*first[i].RemovedAt) || f.RemovedBy == nil || *f.RemovedBy != w.user.ID ||
				f.RemovedReason == nil || *f.RemovedReason != "another customer's data" {
				t.Errorf("file %d: %+v", i, f)
			}
		case 2:
			if f.RemovedAt == nil || f.RemovedBy != nil || f.RemovedReason == nil || *f.RemovedReason != "again" {
				t.Errorf("file %d removed second: %+v", i, f)
			}
		}
	}
	// Removed files are still there to read (for the review).
	if _, got := w.read(id, ids[0]); len(got) != 100 {
		t.Errorf("a removed file reads %d bytes", len(got))
	}
	if !strings.HasPrefix(files[0].Name, "a") {
		t.Errorf("files out of order: %q first", files[0].Name)
	}
}

// TestTaskFileUploadRacingThePackageBuild: a file whose upload is under
// way when the request's package is built must not be accepted on top of
// it (it would be on the task, yet never in the package): either the
// build waits for the upload, or the upload is refused with ECONFLICT.
func TestTaskFileUploadRacingThePackageBuild(t *testing.T) {
	w := newFileWorld(t)
	id := w.request(w.source)
	pr, pw := io.Pipe()
	added := make(chan error, 1)
	go func() {
		_, err := w.db.AddTaskFile(w.ctx, w.keys, store.NewTaskFile{RequestID: id, DataSourceID: w.source, Name: "late.csv",
			ContentType: "text/csv", UploadedBy: w.user.ID, Content: pr})
		added <- err
	}()
	// The upload has passed its checks once its first chunk is taken.
	if _, err := pw.Write(export(store.ChunkSize + 1)); err != nil {
		t.Fatal(err)
	}
	built := make(chan error, 1)
	go func() {
		_, err := w.put(id, []byte("PK"))
		built <- err
	}()
	var buildDone bool
	select {
	case err := <-built:
		if err != nil {
			t.Fatalf("the build: %v", err)
		}
		buildDone = true
	case <-time.After(5 * time.Second): // the build waits for the upload
	}
	pw.Close()
	uploadErr := <-added
	if !buildDone {
		if err := <-built; err != nil {
			t.Logf("the build after the upload: %v", err)
		}
	}
	if buildDone && uploadErr == nil {
		p := w.pkg(id)
		t.Errorf("a package (files %v) was built while a file was being uploaded, and the upload was then accepted: "+
			"the task has a file the package will never hold", p.FileIDs)
	}
	if uploadErr != nil && dsar.ErrorCode(uploadErr) != dsar.ECONFLICT {
		t.Errorf("the upload: want success or ECONFLICT, got %v", uploadErr)
	}
}

// TestTaskFileUploadCutShortStoresNothing: net/http's request body and a
// multipart part report an upload cut short (the client went away) as
// io.ErrUnexpectedEOF; what arrived is not the file and is not stored.
func TestTaskFileUploadCutShortStoresNothing(t *testing.T) {
	w := newFileWorld(t)
	id := w.request(w.source)
	before := w.rows()
	for _, size := range []int{100, store.ChunkSize, store.ChunkSize + 100} {
		r := io.MultiReader(bytes.NewReader(export(size)), errReader{io.ErrUnexpectedEOF})
		f, err := w.db.AddTaskFile(w.ctx, w.keys, store.NewTaskFile{RequestID: id, DataSourceID: w.source, Name: "export.csv",
			ContentType: "text/csv", UploadedBy: w.user.ID, Content: r})
		if err == nil {
			t.Errorf("%d bytes, then the connection lost: stored as a whole file of %d bytes", size, f.Size)
		}
	}
	if after := w.rows(); after != before {
		t.Errorf("files, chunks, audit rows: %v before, %v after", before, after)
	}
}

// TestSlowUploadHoldsNoLock: while an upload streams in, the task's row is
// not locked: its completion (a projection write) goes through at once,
// the file is not listed meanwhile, and once the upload ends it is refused
// and leaves nothing. A pending file a dead process left is swept.
func TestSlowUploadHoldsNoLock(t *testing.T) {
	w := newFileWorld(t)
	id := w.request(w.source)
	before := w.rows()
	pr, pw := io.Pipe()
	added := make(chan error, 1)
	go func() {
		_, err := w.db.AddTaskFile(w.ctx, w.keys, store.NewTaskFile{RequestID: id, DataSourceID: w.source, Name: "slow.csv",
			ContentType: "text/csv", UploadedBy: w.user.ID, Content: pr})
		added <- err
	}()
	if _, err := pw.Write(export(store.ChunkSize + 1)); err != nil { // the first chunk is stored, pending
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.db.Exec(`UPDATE tasks SET status = 'completed', completed_at = now() WHERE request_id = $1`, id)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the task's completion waited for the upload")
	}
	if files, err := w.db.TaskFiles(w.ctx, w.keys, id); err != nil || len(files) != 0 {
		t.Errorf("a pending upload is listed: %v, %v", files, err)
	}
	pw.Close()
	if err := <-added; dsar.ErrorCode(err) != dsar.ECONFLICT {
		t.Errorf("the upload to a task completed meanwhile: %v, want ECONFLICT", err)
	}
	if after := w.rows(); after != before {
		t.Errorf("rows %v after the refused upload, want %v", after, before)
	}

	// A pending upload whose process died.
	w.exec(`INSERT INTO task_files (id, request_id, data_source_id, name, content_type, size, sha256, chunks, pending, created_at)
		VALUES ($1, $2, $3, '\x00', 'text/csv', 0, '', 1, true, now() - interval '2 days')`, uuid.NewString(), id, w.source)
	if n, err := w.db.SweepPendingFiles(w.ctx, time.Now().Add(-24*time.Hour)); err != nil || n != 1 {
		t.Errorf("swept %d pending files (%v), want 1", n, err)
	}
}
