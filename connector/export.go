package connector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/activity"

	"github.com/opendsar/dsar/workflows"
)

// An export reads, for each of the subject's keys in turn, each export
// statement page by page (keyset paging on its cursor column), writes the
// rows as JSON lines, and sends them to the service in parts of about
// part_size bytes. After each part it heartbeats where it stands (the
// position after that part, the upload and the parts sent), so a connector
// that is killed resumes from the last heartbeat: it sends the parts after
// it again, and a part sent again replaces the one before, so no row is
// exported twice.

// exportState is the export's heartbeat: everything up to Key/Query/Cursor
// is in parts 1..Parts of UploadID.
type exportState struct {
	Keys     string // a hash of the subject's keys: a different set starts over
	Key      int    // index into the keys
	Query    int    // index into the export statements
	Cursor   string // the last cursor value sent of that statement ("" with Started false: its start)
	Started  bool
	UploadID string
	Parts    int
	Rows     int64
}

func keysHash(keys []string) string {
	h := sha256.Sum256([]byte(strings.Join(keys, "\x00")))
	return hex.EncodeToString(h[:])
}

func (r *run) export(ctx context.Context, keys []string, out *workflows.StepResult) error {
	st := exportState{Keys: keysHash(keys)}
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		var prev exportState
		if err := activity.GetHeartbeatDetails(ctx, &prev); err == nil && prev.Keys == st.Keys {
			st = prev
		}
	}
	committed := st
	var buf bytes.Buffer
	var buffered int64
	flush := func(pos exportState) error {
		if buf.Len() == 0 {
			return nil
		}
		if committed.UploadID == "" {
			id, err := r.svc.createUpload(ctx, r.requestID, r.src.FileName)
			if err != nil {
				return err
			}
			committed.UploadID = id
			heartbeat(ctx, committed)
		}
		if err := r.svc.putPart(ctx, committed.UploadID, committed.Parts+1, buf.Bytes()); err != nil {
			return err
		}
		pos.UploadID, pos.Parts, pos.Rows = committed.UploadID, committed.Parts+1, committed.Rows+buffered
		committed = pos
		heartbeat(ctx, committed)
		buf.Reset()
		buffered = 0
		return nil
	}
	pos := st
	for pos.Key < len(keys) {
		q := r.src.Statements.Export[pos.Query]
		cursor := *q.Start
		if pos.Started {
			cursor = pos.Cursor
		}
		n, last, err := r.page(ctx, pos.Query, keys[pos.Key], cursor, &buf)
		if err != nil {
			return err
		}
		buffered += int64(n)
		if n > 0 {
			pos.Cursor, pos.Started = last, true
		}
		if n < r.src.PageSize { // this statement is done for this key
			pos.Query, pos.Cursor, pos.Started = pos.Query+1, "", false
			if pos.Query == len(r.src.Statements.Export) {
				pos.Key, pos.Query = pos.Key+1, 0
			}
		}
		if int64(buf.Len()) >= r.src.PartSize {
			if err := flush(pos); err != nil {
				return err
			}
		} else {
			heartbeat(ctx, committed) // alive; the position is still the last part's
		}
	}
	if err := flush(pos); err != nil {
		return err
	}
	out.Rows = committed.Rows
	if committed.Parts == 0 {
		return nil // nothing of this subject: no file
	}
	f, err := r.svc.complete(ctx, committed.UploadID, committed.Parts)
	if err != nil {
		return err
	}
	out.FileID, out.SHA256, out.Size = f.FileID, f.SHA256, f.Size
	return nil
}

// page reads one page of export statement qi for key after cursor into
// buf as JSON lines, and returns the rows read and the last row's cursor.
func (r *run) page(ctx context.Context, qi int, key, cursor string, buf *bytes.Buffer) (int, string, error) {
	q := r.src.Statements.Export[qi]
	what := fmt.Sprintf("export[%d] (%s)", qi, q.Name)
	rows, err := r.db.QueryContext(ctx, q.Query, key, cursor, r.src.PageSize)
	if err != nil {
		return 0, "", classify(r.src.ID, what, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, "", classify(r.src.ID, what, err)
	}
	ci := slices.Index(cols, q.Cursor)
	if ci < 0 {
		return 0, "", nonRetryable(workflows.ErrConnectorSchema, "source %s, %s: the statement returns no column %q, its cursor", r.src.ID, what, q.Cursor)
	}
	name, _ := json.Marshal(q.Name)
	names := make([][]byte, len(cols))
	for i, c := range cols {
		names[i], _ = json.Marshal(c)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n, last := 0, ""
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, "", classify(r.src.ID, what, err)
		}
		buf.WriteString(`{"table":`)
		buf.Write(name)
		buf.WriteString(`,"row":{`)
		for i, v := range vals {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(names[i])
			buf.WriteByte(':')
			b, err := json.Marshal(jsonValue(v))
			if err != nil {
				return 0, "", nonRetryable(workflows.ErrConnectorSchema, "source %s, %s: column %s cannot be written as JSON", r.src.ID, what, cols[i])
			}
			buf.Write(b)
		}
		buf.WriteString("}}\n")
		last = text(vals[ci])
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, "", classify(r.src.ID, what, err)
	}
	return n, last, nil
}

// jsonValue is a column's value as JSON writes it: bytes as text when they
// are UTF-8 (drivers return text and decimals so), else base64.
func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return base64.StdEncoding.EncodeToString(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return v
}

// text is a value as a statement parameter: keys and cursors travel as
// text, which both databases convert to the column's type.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(x)
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// sortKeys orders keys: numbers by value, then text.
func sortKeys(keys []string) {
	slices.SortFunc(keys, func(a, b string) int {
		x, errA := strconv.ParseInt(a, 10, 64)
		y, errB := strconv.ParseInt(b, 10, 64)
		switch {
		case errA == nil && errB == nil:
			return cmpInt(x, y)
		case errA == nil:
			return -1
		case errB == nil:
			return 1
		}
		return strings.Compare(a, b)
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
