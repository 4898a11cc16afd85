package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/bench"
	"github.com/opendsar/dsar/store"
)

// Kinds of scenario.
const (
	kindKill     = "kill"     // the whole path while processes are killed
	kindClose    = "close"    // closed just before Postgres goes away
	kindDeadline = "deadline" // open while its deadline passes during the outage
	kindMail     = "mail"     // submitted while the mail provider fails
)

// scenario is one requester's request, from the form to its close.
type scenario struct {
	n       int
	kind    string
	reject  bool   // refused at the identity check
	country string // JP: the default (short) deadline; DE: a month
	email   string
	first   string // name and description, unique, to look for after erasure
	last    string
	desc    string

	id       string    // once acknowledged
	deadline time.Time // as the request row says, once acknowledged (deadline scenarios)
	err      error
	prepared atomic.Bool // waiting at its gate (staged scenarios)
	closed   atomic.Bool // its steps after the gate have ended (staged scenarios)
}

func newScenario(n int, kind string, reject bool, country string) *scenario {
	u := strings.ReplaceAll(uuid.NewString(), "-", "")
	return &scenario{n: n, kind: kind, reject: reject, country: country,
		email: fmt.Sprintf("requester-%d-%s@example.org", n, u[:6]),
		first: "Chaosfirst" + u[:8], last: "Chaoslast" + u[8:16], desc: "Please send my data, " + u[16:]}
}

// expected is the status the request must end in.
func (s *scenario) expected() dsar.Status {
	if s.reject {
		return dsar.StatusRejected
	}
	return dsar.StatusCompleted
}

// step is one staff action and the status that shows it applied, or,
// for an action that leaves the status as it is, done.
type step struct {
	to   dsar.Status
	do   func(ctx context.Context) (int, []byte, error)
	done func(ctx context.Context) bool
}

// steps are the staff actions of the scenario after the email is verified.
func (c *chaos) steps(s *scenario) []step {
	path := "/api/v1/requests/" + s.id
	post := func(p string, body any) func(ctx context.Context) (int, []byte, error) {
		return func(ctx context.Context) (int, []byte, error) {
			return c.call(ctx, http.MethodPost, p, c.owner, body, nil)
		}
	}
	if s.reject {
		return []step{{dsar.StatusRejected, post(path+"/identity-verification", map[string]any{"verified": false, "note": "no match"}), nil}}
	}
	return []step{
		{dsar.StatusIdentityVerified, post(path+"/identity-verification", map[string]any{"verified": true, "note": "matches"}), nil},
		{dsar.StatusInProgress, post(path+"/assignments", map[string]any{"data_source_ids": []string{c.source}}), nil},
		{dsar.StatusReadyToClose, post(path+"/tasks/"+c.source+"/completion", map[string]any{"note": "exported"}), nil},
		// An access request's package is reviewed and approved before the
		// completion sends it (refused with 409 while it is being built).
		{dsar.StatusReadyToClose, post(path+"/package/approval", map[string]any{"note": "reviewed"}), c.packageApproved(path)},
		{dsar.StatusCompleted, post(path+"/completion", map[string]any{"note": "sent"}), nil},
	}
}

// packageApproved reports whether the package of the request at path is
// approved (or already published).
func (c *chaos) packageApproved(path string) func(ctx context.Context) bool {
	return func(ctx context.Context) bool {
		var p struct {
			Status string `json:"status"`
		}
		status, _, err := c.call(ctx, http.MethodGet, path+"/package", c.owner, nil, &p)
		return err == nil && status == http.StatusOK && (p.Status == "approved" || p.Status == "published")
	}
}

// walk does the steps in order.
func (c *chaos) walk(ctx context.Context, s *scenario, steps []step) error {
	for _, st := range steps {
		if err := c.step(ctx, s.id, st); err != nil {
			return fmt.Errorf("to %s: %w", st.to, err)
		}
	}
	return nil
}

// play is the whole scenario at once: form, verification, every step.
func (c *chaos) play(ctx context.Context, s *scenario) error {
	if err := c.submit(ctx, s); err != nil {
		return err
	}
	if err := c.verifyEmail(ctx, s); err != nil {
		return err
	}
	return c.walk(ctx, s, c.steps(s))
}

// staged plays the scenario in two parts: the form, the verification and
// the steps before split; then, once gate is closed, the rest. reached is
// called once the first part has ended, well or not.
func (c *chaos) staged(ctx context.Context, s *scenario, split int, reached func(), gate <-chan struct{}) error {
	var once sync.Once
	defer once.Do(reached)
	err := c.submit(ctx, s)
	if err == nil {
		err = c.verifyEmail(ctx, s)
	}
	steps := c.steps(s)
	if err == nil {
		err = c.walk(ctx, s, steps[:split])
	}
	once.Do(reached)
	if err != nil {
		return err
	}
	s.prepared.Store(true)
	select {
	case <-gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer s.closed.Store(true)
	return c.walk(ctx, s, steps[split:])
}

// deadlineOf is the request's deadline as its row says (zero if Postgres
// cannot say within a minute).
func (c *chaos) deadlineOf(ctx context.Context, id string) time.Time {
	var d time.Time
	for range 60 {
		if err := c.db.GetContext(ctx, &d, `SELECT deadline FROM requests WHERE id = $1`, id); err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	return d
}

var tokenRE = regexp.MustCompile(`token=([A-Za-z0-9_\-]{43})`)

// submit sends the form until a request is acknowledged, with retries
// wherever the system is down, to either API.
func (c *chaos) submit(ctx context.Context, s *scenario) error {
	var ack struct{ ID string }
	for attempt := 0; ack.ID == ""; attempt++ {
		if attempt == 3 {
			return errors.New("no submission acknowledged after 3 keys")
		}
		if attempt > 0 {
			// The key stayed "being processed" even past the time after
			// which a retry takes over the claim of a process that died
			// mid-request. Submit the form again, with a new captcha and
			// a new key, as a person would.
			c.stuckKeys.Add(1)
		}
		var captcha string
		if _, err := c.retry(ctx, "captcha", func() (int, []byte, error) {
			solved, err := bench.SolveCaptcha(ctx, c.http, c.base())
			if err != nil {
				return 0, nil, err
			}
			captcha = solved
			return http.StatusOK, nil, nil
		}, http.StatusOK); err != nil {
			return err
		}
		body, ctype := form(s, captcha)
		key := "chaos-" + uuid.NewString()
		// A 409 means another call holds the key: wait, as an API client
		// would, past store.IdempotencyAbandonedAfter, after which a retry
		// takes over the claim of a process that died mid-request and
		// finishes that request.
		patience := store.IdempotencyAbandonedAfter + 30*time.Second
		conflictSince := time.Time{}
		_, err := c.retryFor(ctx, max(patience+time.Minute, c.patience()), "submit", func() (int, []byte, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base()+"/api/v1/requests", bytes.NewReader(body))
			req.Header.Set("Content-Type", ctype)
			req.Header.Set("Idempotency-Key", key)
			res, err := c.http.Do(req)
			if err != nil {
				return 0, nil, err
			}
			defer res.Body.Close()
			data, _ := io.ReadAll(res.Body)
			switch res.StatusCode {
			case http.StatusAccepted:
				err = json.Unmarshal(data, &ack)
			case http.StatusConflict: // being processed: wait
				if conflictSince.IsZero() {
					conflictSince = time.Now()
				}
				if time.Since(conflictSince) < patience {
					return http.StatusServiceUnavailable, data, nil
				}
			}
			return res.StatusCode, data, err
		}, http.StatusAccepted)
		if err != nil && !strings.Contains(err.Error(), ": 409 ") {
			return err
		}
	}
	s.id = ack.ID
	return nil
}

// verifyEmail confirms the email with the token of the mail the workflow
// sent.
func (c *chaos) verifyEmail(ctx context.Context, s *scenario) error {
	tok, err := c.waitMail(ctx, s.email)
	if err != nil {
		return err
	}
	if err := c.step(ctx, s.id, step{to: dsar.StatusAwaitingIdentity, do: func(ctx context.Context) (int, []byte, error) {
		return c.call(ctx, http.MethodPost, "/api/v1/email-verifications", "", map[string]string{"token": tok}, nil)
	}}); err != nil {
		return fmt.Errorf("verify email: %w", err)
	}
	return nil
}

// step does an action until the request shows status to (or its done
// says so). The action is
// sent with one Idempotency-Key however often it is sent again (an answer
// lost with a killed API, an outage), so the API answers a repeat with the
// first answer; a refusal (409) is tried again under a new key once the
// request shows the status the action expects.
func (c *chaos) step(ctx context.Context, id string, st step) error {
	to := st.to
	applied := st.done
	if applied == nil {
		applied = func(ctx context.Context) bool { got, _ := c.status(ctx, id); return got == string(to) }
	}
	kctx := withKey(ctx, "chaos-"+uuid.NewString())
	deadline := time.Now().Add(c.patience())
	for {
		status, body, err := st.do(kctx)
		c.answered(status, err)
		switch {
		case err == nil && status == http.StatusConflict:
			kctx = withKey(ctx, "chaos-"+uuid.NewString())
		case err == nil && status >= 400 && status < 500 && status != http.StatusGone &&
			status != http.StatusNotFound && status != http.StatusTooManyRequests:
			return fmt.Errorf("%d %.200s", status, body)
		}
		for range 20 {
			if applied(ctx) {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			got, _ := c.status(ctx, id)
			return fmt.Errorf("still %s after %s (last answer %d %v %.200s)", got, c.patience(), status, err, body)
		}
		c.retries.Add(1)
	}
}

// patience is how long a client keeps trying one step: past the Postgres
// outage, the mail outage and the mail's retry backoff after it.
func (c *chaos) patience() time.Duration {
	return c.opt.outage + 2*c.opt.mailOutage + 3*time.Minute
}

// keyCtx carries the Idempotency-Key of a call in its context.
type keyCtx struct{}

func withKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyCtx{}, key)
}

// keyed sets the Idempotency-Key header of requests whose context carries
// one, so that bench.Call needs no parameter for it.
type keyed struct{ next http.RoundTripper }

func (k keyed) RoundTrip(r *http.Request) (*http.Response, error) {
	if key, ok := r.Context().Value(keyCtx{}).(string); ok && r.Header.Get("Idempotency-Key") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Idempotency-Key", key)
	}
	return k.next.RoundTrip(r)
}

// status is the request's status as the detail shows it ("" if the API
// cannot say right now).
func (c *chaos) status(ctx context.Context, id string) (string, error) {
	var d struct {
		Status string `json:"status"`
	}
	st, body, err := c.call(ctx, http.MethodGet, "/api/v1/requests/"+id, c.owner, nil, &d)
	if err != nil {
		return "", err
	}
	if st != http.StatusOK {
		return "", fmt.Errorf("%d %.200s", st, body)
	}
	return d.Status, nil
}

// settledStatus waits (up to a minute) for the request to show want, and
// returns what it shows.
func (c *chaos) settledStatus(ctx context.Context, id, want string) (string, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := c.status(ctx, id)
		if got == want || time.Now().After(deadline) {
			return got, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitMail waits for the verification mail to addr and returns its token.
func (c *chaos) waitMail(ctx context.Context, addr string) (string, error) {
	deadline := time.Now().Add(c.patience())
	for time.Now().Before(deadline) && ctx.Err() == nil {
		// The newest first: after a submission made again, the mail of
		// the acknowledged request is the last one.
		mails := c.mail.Emails()
		for _, m := range slices.Backward(mails) {
			if slices.Contains(m.To, addr) {
				if mm := tokenRE.FindStringSubmatch(m.Text); mm != nil {
					return mm[1], nil
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "", fmt.Errorf("no verification mail within %s", c.patience())
}

// form is a valid submission of the scenario's requester.
func form(s *scenario, captcha string) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range map[string]string{"first_name": s.first, "last_name": s.last, "email": s.email, "country": s.country,
		"requestor_type": "customer", "request_type": "info", "description": s.desc, "captcha": captcha} {
		_ = w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("identity_document", "id.png")
	var img bytes.Buffer
	_ = png.Encode(&img, image.NewGray(image.Rect(0, 0, 16, 16)))
	_, _ = fw.Write(img.Bytes())
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}
