// Package resendtest is a local HTTP server that speaks the part of Resend's
// API the service uses (POST /emails), for tests of the real client. It
// checks what Resend checks (the Bearer key, the JSON body, the
// Idempotency-Key header), keeps one delivery per idempotency key, and can
// be told to fail the next sends, or every send for a while (an outage),
// with a status of the test's choosing.
package resendtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Email is one accepted send, as the server decoded it.
type Email struct {
	ID             string   `json:"-"`
	IdempotencyKey string   `json:"-"`
	From           string   `json:"from"`
	To             []string `json:"to"`
	Subject        string   `json:"subject"`
	HTML           string   `json:"html"`
	Text           string   `json:"text"`
}

// Server is a fake Resend API. Its zero value is not usable: call New or
// NewServer.
type Server struct {
	*httptest.Server
	apiKey string

	mu       sync.Mutex
	emails   []Email          // first delivery per key, in order
	byKey    map[string]Email // idempotency key → delivery
	requests map[string]int   // idempotency key → POSTs seen
	failures []int            // statuses to answer the next sends with
	outage   int              // while not 0, the status every send is answered with
	failed   int              // sends answered with an injected failure
	reused   map[string]int   // idempotency key → sends refused for another payload
}

// NewServer starts a server that accepts apiKey, as httptest.NewServer
// does: the caller closes it. Point a client at its URL.
func NewServer(apiKey string) *Server {
	s := &Server{apiKey: apiKey, byKey: map[string]Email{}, requests: map[string]int{}, reused: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// New starts a server that accepts apiKey, closed when the test ends.
func New(t testing.TB, apiKey string) *Server {
	t.Helper()
	s := NewServer(apiKey)
	t.Cleanup(s.Close)
	return s
}

// FailNext makes the next len(statuses) valid sends answer these statuses
// (429, 500, 422, ...) in order, delivering nothing.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, statuses...)
}

// StartOutage makes every valid send answer status (503, 500, 429, ...),
// delivering nothing, until EndOutage: the provider is down.
func (s *Server) StartOutage(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = status
}

// EndOutage ends the outage StartOutage began.
func (s *Server) EndOutage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = 0
}

// Failed counts the sends answered with an injected failure (FailNext or
// an outage).
func (s *Server) Failed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// Reused returns, per idempotency key, how many sends were refused (409)
// because the key had been delivered with another payload: a sender whose
// retry changed the mail.
func (s *Server) Reused() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.reused))
	for k, n := range s.reused {
		m[k] = n
	}
	return m
}

// Emails returns the delivered emails, one per idempotency key, in order.
func (s *Server) Emails() []Email {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Email(nil), s.emails...)
}

// Deliveries counts the emails delivered under an idempotency key: at most
// one, however often it was sent.
func (s *Server) Deliveries(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byKey[key]; ok {
		return 1
	}
	return 0
}

// Requests counts the POSTs that carried an idempotency key, delivered or not.
func (s *Server) Requests(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[key]
}

// apiError writes Resend's error shape.
func apiError(w http.ResponseWriter, status int, name, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"statusCode": status, "name": name, "message": msg})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/emails" {
		apiError(w, http.StatusNotFound, "not_found", "no route "+r.Method+" "+r.URL.Path)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		apiError(w, http.StatusUnauthorized, "missing_api_key", "the API key is missing or wrong")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		apiError(w, http.StatusBadRequest, "invalid_request", "the body must be JSON")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" || len(key) > 256 {
		apiError(w, http.StatusBadRequest, "invalid_idempotency_key", "an Idempotency-Key of 1 to 256 characters is required")
		return
	}
	var e Email
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&e); err != nil {
		apiError(w, http.StatusUnprocessableEntity, "validation_error", "the body is not valid JSON: "+err.Error())
		return
	}
	switch {
	case e.From == "":
		apiError(w, http.StatusUnprocessableEntity, "validation_error", "from is required")
		return
	case len(e.To) == 0 || len(e.To) > 50:
		apiError(w, http.StatusUnprocessableEntity, "validation_error", "to needs 1 to 50 addresses")
		return
	case e.Subject == "":
		apiError(w, http.StatusUnprocessableEntity, "validation_error", "subject is required")
		return
	case e.HTML == "" && e.Text == "":
		apiError(w, http.StatusUnprocessableEntity, "validation_error", "html or text is required")
		return
	}
	for _, to := range e.To {
		if !strings.Contains(to, "@") {
			apiError(w, http.StatusUnprocessableEntity, "validation_error", "invalid to address "+to)
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[key]++
	if s.outage != 0 {
		s.failed++
		apiError(w, s.outage, "injected_failure", fmt.Sprintf("outage %d injected by the test", s.outage))
		return
	}
	if len(s.failures) > 0 {
		status := s.failures[0]
		s.failures = s.failures[1:]
		s.failed++
		apiError(w, status, "injected_failure", fmt.Sprintf("failure %d injected by the test", status))
		return
	}
	if prev, ok := s.byKey[key]; ok {
		if !sameEmail(prev, e) {
			s.reused[key]++
			apiError(w, http.StatusConflict, "invalid_idempotent_request", "this idempotency key was used with another payload")
			return
		}
		writeID(w, prev.ID)
		return
	}
	e.ID = fmt.Sprintf("email-%d", len(s.emails)+1)
	e.IdempotencyKey = key
	s.byKey[key] = e
	s.emails = append(s.emails, e)
	writeID(w, e.ID)
}

func sameEmail(a, b Email) bool {
	return a.From == b.From && strings.Join(a.To, ",") == strings.Join(b.To, ",") &&
		a.Subject == b.Subject && a.HTML == b.HTML && a.Text == b.Text
}

func writeID(w http.ResponseWriter, id string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
}
