package server

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// standardPage is what the queue answered before appendQueuePage: gin's
// JSON of the same map.
func standardPage(t testing.TB, items []store.QueueItem, cursor string) []byte {
	out := gin.H{"items": items, "next_cursor": nil}
	if cursor != "" {
		out["next_cursor"] = cursor
	}
	want, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return want
}

func TestQueuePageJSONIsEncodingJSONs(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	at := time.Date(2026, 11, 30, 19, 51, 46, 123456000, time.UTC)
	handler, name, odd := "5d1c0e4f-6c55-4f43-9a52-0b5f7a3e8d21", "Maria Manager", "Zoë <\"Q\"> & \u2029\x01"
	items := []store.QueueItem{
		{ID: "0b5f7a3e-6c55-4f43-9a52-1c0e4f5c8d21", Reference: "DSR-0B5F7A3E", RequestType: dsar.RequestDeletion, RequestorType: dsar.RequestorCustomer,
			Country: "DE", Region: "BE", Status: dsar.StatusInProgress, SubmittedAt: at, Deadline: at.AddDate(0, 1, 0), Overdue: true,
			HandlerID: &handler, HandlerName: &name, AwaitingReply: true},
		{ID: "9c1d", RequestType: dsar.RequestInfo, RequestorType: dsar.RequestorEmployee, Country: "US", Region: "",
			Status: dsar.StatusAwaitingIdentity, SubmittedAt: at.In(berlin).Truncate(time.Second), Deadline: time.Time{}},
		// Text that must be escaped, whatever the columns hold one day.
		{ID: `<script>"x"&\`, Reference: "\xff<", Country: "\x00\t\n\u2028é", Region: "\xff\xfe", Status: "a/b", HandlerName: &odd},
	}
	for _, cursor := range []string{"", "MTc2NDUzMjMwNjEyMzQ1NnwwYjVmfA"} {
		for n := range len(items) + 1 {
			got, err := appendQueuePage(nil, items[:n], cursor)
			if err != nil {
				t.Fatal(err)
			}
			if want := standardPage(t, items[:n], cursor); !bytes.Equal(got, want) {
				t.Fatalf("%d items, cursor %q:\n got %s\nwant %s", n, cursor, got, want)
			}
		}
	}
	// Every field of a queue item is written: a field added to QueueItem
	// and not to appendQueueItem shows here.
	var fields map[string]any
	one, _ := appendQueuePage(nil, items[:1], "")
	var page struct{ Items []map[string]any }
	if err := json.Unmarshal(one, &page); err != nil {
		t.Fatal(err)
	}
	full, _ := json.Marshal(items[0])
	if err := json.Unmarshal(full, &fields); err != nil {
		t.Fatal(err)
	}
	if len(page.Items[0]) != len(fields) {
		t.Fatalf("the page writes %d fields of a queue item, encoding/json %d", len(page.Items[0]), len(fields))
	}
	// A time JSON cannot hold fails as time.Time's MarshalJSON does.
	if _, err := appendQueuePage(nil, []store.QueueItem{{SubmittedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}, ""); err == nil {
		t.Fatal("year 10000 was written")
	}
}

// FuzzQueuePageJSON checks appendQueuePage against encoding/json for any
// text in the item's string fields and any instant.
func FuzzQueuePageJSON(f *testing.F) {
	f.Add("0b5f7a3e-6c55-4f43-9a52-1c0e4f5c8d21", "DE", "", "in_progress", int64(1764532306123456000), "cursor", "Maria")
	f.Add(`<a href="x">&amp;</a>`, "\u2028", "\xff", "\x7f\x1f", int64(-62135596800), "", "")
	f.Fuzz(func(t *testing.T, id, country, region, status string, nanos int64, cursor, handler string) {
		at := time.Unix(0, nanos).UTC()
		items := []store.QueueItem{{ID: id, Reference: dsar.Reference(id), RequestType: dsar.RequestType(status), RequestorType: dsar.RequestorType(region),
			Country: country, Region: region, Status: dsar.Status(status), SubmittedAt: at, Deadline: at.Add(time.Hour), Overdue: nanos%2 == 0,
			AwaitingReply: nanos%3 == 0}}
		if handler != "" { // nil, or the text for both the id and the name
			items[0].HandlerID, items[0].HandlerName = &handler, &handler
		}
		got, err := appendQueuePage(nil, items, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if want := standardPage(t, items, cursor); !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

// BenchmarkQueuePageJSON encodes a page of 50 as the queue did (encoding/json
// through gin) and as it does.
func BenchmarkQueuePageJSON(b *testing.B) {
	at := time.Date(2026, 11, 30, 19, 51, 46, 123456000, time.UTC)
	items := make([]store.QueueItem, 50)
	for i := range items {
		items[i] = store.QueueItem{ID: "0b5f7a3e-6c55-4f43-9a52-1c0e4f5c8d21", RequestType: dsar.RequestDeletion,
			RequestorType: dsar.RequestorCustomer, Country: "DE", Status: dsar.StatusInProgress,
			SubmittedAt: at, Deadline: at.AddDate(0, 1, 0)}
	}
	const cursor = "MTc2NDUzMjMwNjEyMzQ1NnwwYjVmfA"
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			standardPage(b, items, cursor)
		}
	})
	b.Run("append", func(b *testing.B) {
		for b.Loop() {
			if _, err := appendQueuePage(make([]byte, 0, 64+256*len(items)), items, cursor); err != nil {
				b.Fatal(err)
			}
		}
	})
}
