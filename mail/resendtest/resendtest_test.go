package resendtest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/opendsar/dsar/mail/resendtest"
)

// send posts one email with key and text, and returns the answer's status.
func send(t *testing.T, s *resendtest.Server, key, text string) int {
	t.Helper()
	body := `{"from":"Privacy <privacy@example.com>","to":["ada@example.org"],"subject":"Hello","text":"` + text + `"}`
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/emails", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer re_test")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestOutageFailsEverySendUntilItEnds(t *testing.T) {
	s := resendtest.NewServer("re_test")
	defer s.Close()
	s.StartOutage(http.StatusServiceUnavailable)
	for range 3 {
		if got := send(t, s, "k1", "hi"); got != http.StatusServiceUnavailable {
			t.Fatalf("during the outage: %d, want 503", got)
		}
	}
	if n := len(s.Emails()); n != 0 {
		t.Fatalf("delivered %d during the outage", n)
	}
	s.EndOutage()
	if got := send(t, s, "k1", "hi"); got != http.StatusOK {
		t.Fatalf("after the outage: %d, want 200", got)
	}
	if s.Failed() != 3 || s.Requests("k1") != 4 || s.Deliveries("k1") != 1 {
		t.Errorf("failed %d, requests %d, deliveries %d; want 3, 4, 1", s.Failed(), s.Requests("k1"), s.Deliveries("k1"))
	}
}

func TestKeyReusedWithAnotherPayloadIsCounted(t *testing.T) {
	s := resendtest.New(t, "re_test")
	if got := send(t, s, "k1", "first"); got != http.StatusOK {
		t.Fatalf("first: %d", got)
	}
	if got := send(t, s, "k1", "second"); got != http.StatusConflict {
		t.Fatalf("another payload: %d, want 409", got)
	}
	if got := s.Reused(); got["k1"] != 1 || len(got) != 1 {
		t.Errorf("reused %v, want k1: 1", got)
	}
}
