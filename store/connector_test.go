package store_test

import (
	"testing"
	"time"
)

// TestConnectorUploadsGoWithTheDataAndTheSweep: a connector's upload in
// progress (its parts sealed under the request's key) is deleted when the
// request's data is erased, and an upload nobody touched for a long time
// is swept, while a recent one stays.
func TestConnectorUploadsGoWithTheDataAndTheSweep(t *testing.T) {
	w := newFileWorld(t)
	w.exec(`UPDATE data_sources SET mode = 'postgres' WHERE id = $1`, w.source)
	scrubbed, idle, recent := w.request(w.source), w.request(w.source), w.request(w.source)
	w.exec(`UPDATE tasks SET mode = 'postgres'`)
	uploads := map[string]string{}
	for _, id := range []string{scrubbed, idle, recent} {
		up, err := w.db.CreateConnectorUpload(w.ctx, w.keys, id, w.source, "crm.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.db.PutConnectorPart(w.ctx, w.keys, w.source, up, 1, []byte(`{"a":1}`+"\n"), 1<<20); err != nil {
			t.Fatal(err)
		}
		uploads[id] = up
	}
	w.exec(`UPDATE requests SET status = 'completed' WHERE id = $1`, scrubbed)
	if err := w.db.ScrubRequest(w.ctx, scrubbed); err != nil {
		t.Fatal(err)
	}
	if n := w.count(`SELECT count(*) FROM connector_uploads WHERE request_id = $1`, scrubbed); n != 0 {
		t.Errorf("%d uploads of an erased request left", n)
	}
	w.exec(`UPDATE connector_uploads SET updated_at = now() - interval '8 days' WHERE id = $1`, uploads[idle])
	n, err := w.db.SweepConnectorUploads(w.ctx, time.Now().Add(-7*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("swept %d (%v), want the idle upload", n, err)
	}
	if n := w.count(`SELECT count(*) FROM connector_upload_parts`); n != 1 {
		t.Errorf("%d parts left, want the recent upload's", n)
	}
	f, err := w.db.CompleteConnectorUpload(w.ctx, w.keys, w.source, uploads[recent], 1, func(string) string { return "application/x-ndjson" }, 1<<20)
	if err != nil || f.ID != uploads[recent] || f.Size != 8 {
		t.Fatalf("the recent upload completes: %+v, %v", f, err)
	}
	if _, err := w.db.CompleteConnectorUpload(w.ctx, w.keys, w.source, uploads[idle], 1, func(string) string { return "" }, 1<<20); err == nil {
		t.Error("a swept upload completes")
	}
}
