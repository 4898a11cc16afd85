package server

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/opendsar/dsar/store"
)

// The queue is the staff's most frequent read, and encoding/json (reflection,
// then a pass over each time's text) cost about as much as a fifth of the
// query behind it. appendQueuePage writes the same bytes directly: what
// json.Marshal of {"items": items, "next_cursor": cursor} gives, as the
// tests check field by field and the fuzz target checks for any text.

// appendQueuePage appends the queue page's JSON to b; cursor "" is null.
func appendQueuePage(b []byte, items []store.QueueItem, cursor string) ([]byte, error) {
	b = append(b, `{"items":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendQueueItem(b, it); err != nil {
			return nil, err
		}
	}
	b = append(b, `],"next_cursor":`...)
	if cursor == "" {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, cursor)
	}
	return append(b, '}'), nil
}

func appendQueueItem(b []byte, it store.QueueItem) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = appendJSONString(b, it.ID)
	b = append(b, `,"reference":`...)
	b = appendJSONString(b, it.Reference)
	b = append(b, `,"request_type":`...)
	b = appendJSONString(b, string(it.RequestType))
	b = append(b, `,"requestor_type":`...)
	b = appendJSONString(b, string(it.RequestorType))
	b = append(b, `,"country":`...)
	b = appendJSONString(b, it.Country)
	b = append(b, `,"region":`...)
	b = appendJSONString(b, it.Region)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(it.Status))
	b = append(b, `,"submitted_at":`...)
	if b, err = appendJSONTime(b, it.SubmittedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"deadline":`...)
	if b, err = appendJSONTime(b, it.Deadline); err != nil {
		return nil, err
	}
	b = append(b, `,"overdue":`...)
	b = strconv.AppendBool(b, it.Overdue)
	b = append(b, `,"handler_id":`...)
	b = appendJSONStringOrNull(b, it.HandlerID)
	b = append(b, `,"handler_name":`...)
	b = appendJSONStringOrNull(b, it.HandlerName)
	b = append(b, `,"awaiting_reply":`...)
	b = strconv.AppendBool(b, it.AwaitingReply)
	return append(b, '}'), nil
}

// appendJSONStringOrNull appends *s as json.Marshal writes a *string: null
// for nil.
func appendJSONStringOrNull(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

// appendJSONTime is time.Time's MarshalJSON (RFC 3339 with nanoseconds,
// an error for years outside 0–9999) without its copy.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, err
	}
	return append(b, '"'), nil
}

// appendJSONString appends s as json.Marshal quotes it. Ids, codes and
// enums are printable ASCII with nothing to escape and are copied; anything
// else goes through encoding/json, so escaping (HTML characters, control
// characters, invalid UTF-8, U+2028) stays exactly the standard library's.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
