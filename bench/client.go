package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// Call makes one JSON call to the API at base: body (if not nil) is sent as
// JSON, token (if not empty) as a Bearer token, and a 2xx answer is decoded
// into out (if not nil). It returns the status and the raw answer.
func Call(ctx context.Context, hc *http.Client, base, method, path, token string, body, out any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		r = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return res.StatusCode, data, err
		}
	}
	return res.StatusCode, data, nil
}
