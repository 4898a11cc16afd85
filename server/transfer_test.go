package server

import (
	"bytes"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestSlowUploadOutlastsTheServerTimeouts: an export sent slowly (a large
// file on a slow line) is not cut off by the server's read and write
// timeouts, which the upload extends for its size.
func TestSlowUploadOutlastsTheServerTimeouts(t *testing.T) {
	e := newUploadEnv(t)
	srv := &http.Server{Handler: e.server.Handler(), ReadTimeout: time.Second, WriteTimeout: time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", "slow.csv")
		if err == nil {
			line := bytes.Repeat([]byte("a,b,c\n"), 16<<10) // 96 KiB
			for i := 0; i < 12 && err == nil; i++ {         // over about three seconds, three times the timeouts
				_, err = part.Write(line)
				time.Sleep(250 * time.Millisecond)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+e.files, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+e.olivia)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the slow upload was cut off: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("the slow upload: %d %s", res.StatusCode, body)
	}
}
