// Command dsarchaos runs the full request scenario many times while it
// kills (SIGKILL) the worker, the API, the Temporal dev server or Postgres
// at random moments and starts them again. Everything runs on loopback and
// is started by the command itself: a private Postgres cluster, the Temporal
// dev server (state in a file, so it survives its restarts), `dsar serve`,
// `dsar worker`, and a Resend-speaking mail server in this process. At the
// end every acknowledged request must be in its expected state, no workflow
// may still run, and no email may have been delivered twice. It prints its
// tallies and exits 1 if any of that fails.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the postgres driver
	"go.temporal.io/api/workflowservice/v1"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/bench"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/mail/resendtest"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "dsarchaos:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// chaos is one run: the processes, the client side and the tallies.
type chaos struct {
	dir      string
	pg       *bench.Postgres
	temporal *bench.Proc
	serve    *bench.Proc
	worker   *bench.Proc
	mail     *resendtest.Server
	app      *app.App
	base     string
	http     *http.Client
	queue    string
	owner    string // staff session
	source   string // data source id
	pw       string

	kills     sync.Map // process name → *atomic.Int64
	retries   atomic.Int64
	restartF  atomic.Int64
	stuckKeys atomic.Int64 // idempotency keys left "being processed" by a killed API
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func run(ctx context.Context, args []string) (bool, error) {
	fs := flag.NewFlagSet("dsarchaos", flag.ContinueOnError)
	runs := fs.Int("runs", 20, "scenarios to run")
	parallelism := fs.Int("parallel", 2, "scenarios at a time")
	every := fs.Duration("every", 500*time.Millisecond, "mean time between kills")
	limit := fs.Duration("timeout", 20*time.Minute, "the whole run's time bound")
	keep := fs.Bool("keep", false, "keep the logs and data directory")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "random seed (printed, to replay a run)")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	rng := rand.New(rand.NewPCG(*seed, 7))
	began := time.Now()
	c := &chaos{http: &http.Client{Timeout: 20 * time.Second}, queue: "chaos", pw: "chaos password, long enough"}
	var err error
	if c.dir, err = os.MkdirTemp("", "dsarchaos-"); err != nil {
		return false, err
	}
	logf("seed %d; logs in %s", *seed, c.dir)
	defer func() {
		c.stopAll()
		if *keep {
			logf("kept %s", c.dir)
		} else {
			_ = os.RemoveAll(c.dir)
		}
	}()
	if err := c.start(ctx); err != nil {
		return false, err
	}

	// The chaos: kill one process at a random moment, start it again after
	// a random pause, repeat until the scenarios are done.
	procs := []*bench.Proc{c.worker, c.serve, c.temporal, c.pg.Proc}
	chaosCtx, stopChaos := context.WithCancel(ctx)
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		for {
			wait := time.Duration(rng.Int64N(int64(2 * *every)))
			select {
			case <-chaosCtx.Done():
				return
			case <-time.After(wait):
			}
			p := procs[rng.IntN(len(procs))]
			p.Kill()
			c.count(p.Name)
			logf("killed %s", p.Name)
			time.Sleep(time.Duration(rng.Int64N(int64(2 * time.Second))))
			for attempt := 0; ; attempt++ {
				sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				err := p.Start(sctx)
				cancel()
				if err == nil || ctx.Err() != nil {
					break
				}
				c.restartF.Add(1)
				logf("restart %s: %v (again)", p.Name, err)
				time.Sleep(time.Second)
			}
		}
	}()

	// The scenarios.
	type outcome struct {
		id, expected string
		acked        bool
		err          error
	}
	outcomes := make([]outcome, *runs)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range *parallelism {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *runs {
					return
				}
				reject := i%4 == 3
				id, err := c.scenario(ctx, i, reject)
				o := outcome{id: id, acked: id != "", err: err, expected: string(dsar.StatusCompleted)}
				if reject {
					o.expected = string(dsar.StatusRejected)
				}
				if err != nil {
					logf("scenario %d: %v", i, err)
				} else {
					logf("scenario %d: %s done", i, id)
				}
				outcomes[i] = o
			}
		}()
	}
	wg.Wait()
	stopChaos()
	<-chaosDone
	logf("scenarios over; every process up again; checking")

	// The checks, on a calm system.
	ok := true
	check := func(good bool, format string, args ...any) {
		if !good {
			ok = false
			fmt.Printf("FAIL: "+format+"\n", args...)
		}
	}
	acked, inState := 0, 0
	for i, o := range outcomes {
		if !o.acked {
			check(false, "scenario %d: no request acknowledged (%v)", i, o.err)
			continue
		}
		acked++
		status, err := c.settledStatus(ctx, o.id, o.expected)
		if err == nil && status == o.expected {
			inState++
		} else {
			check(false, "scenario %d: request %s is %s, want %s (%v; scenario error: %v)", i, o.id, status, o.expected, err, o.err)
		}
	}
	running, err := c.runningWorkflows(ctx)
	if err != nil {
		return false, err
	}
	check(running == 0, "%d request workflow(s) still running", running)
	emails := c.mail.Emails()
	perKey := map[string]int{}
	perMail := map[string]int{}
	for _, e := range emails {
		perKey[e.IdempotencyKey]++
		perMail[strings.Join(e.To, ",")+" | "+e.Subject]++
	}
	dupKeys, dupMails, retried := 0, 0, 0
	for k, n := range perKey {
		if n > 1 {
			dupKeys++
		}
		if c.mail.Requests(k) > 1 {
			retried++
		}
	}
	for m, n := range perMail {
		if n > 1 && !strings.Contains(m, "alert") {
			dupMails++
			check(false, "mail sent %d times: %s", n, m)
		}
	}
	check(dupKeys == 0, "%d idempotency key(s) delivered more than once", dupKeys)

	fmt.Printf("\nchaos run (seed %d, %s)\n", *seed, time.Since(began).Round(time.Second))
	fmt.Printf("  scenarios             %d (%d end rejected)\n", *runs, (*runs+1)/4)
	fmt.Printf("  acknowledged          %d\n", acked)
	fmt.Printf("  in expected state     %d\n", inState)
	fmt.Printf("  workflows running     %d\n", running)
	for _, name := range []string{"worker", "serve", "temporal", "postgres"} {
		fmt.Printf("  kills: %-14s %d\n", name, c.killed(name))
	}
	fmt.Printf("  failed restarts       %d (tried again)\n", c.restartF.Load())
	fmt.Printf("  client retries        %d\n", c.retries.Load())
	fmt.Printf("  stuck idem. keys      %d (the submission was made again with a new key and captcha)\n", c.stuckKeys.Load())
	fmt.Printf("  emails delivered      %d (%d idempotency keys; %d sent more than once by the service, delivered once)\n", len(emails), len(perKey), retried)
	fmt.Printf("  emails twice          %d by key, %d by recipient and subject\n", dupKeys, dupMails)
	if ok {
		fmt.Println("OK")
	} else {
		fmt.Println("FAILED")
	}
	return ok, nil
}

func (c *chaos) count(name string) {
	v, _ := c.kills.LoadOrStore(name, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (c *chaos) killed(name string) int64 {
	if v, ok := c.kills.Load(name); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// start brings the system up and makes the staff side: an org owner who
// owns one data source.
func (c *chaos) start(ctx context.Context) error {
	logf("building")
	if err := bench.Build(ctx); err != nil {
		return err
	}
	pgPort, _ := bench.FreePort()
	tPort, _ := bench.FreePort()
	hPort, _ := bench.FreePort()
	var err error
	if c.pg, err = bench.NewPostgres(ctx, c.dir, pgPort); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	logf("starting postgres on 127.0.0.1:%d", pgPort)
	if err := c.pg.Start(sctx); err != nil {
		return err
	}
	admin, err := sqlx.Open("postgres", c.pg.URL)
	if err != nil {
		return err
	}
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE dsar`); err != nil {
		admin.Close()
		return fmt.Errorf("create database: %w", err)
	}
	admin.Close()
	dbURL := strings.Replace(c.pg.URL, "/postgres?", "/dsar?", 1)
	logf("starting the Temporal dev server on 127.0.0.1:%d", tPort)
	c.temporal = bench.Temporal(c.dir, tPort, c.dir+"/temporal.db")
	if err := c.temporal.Start(sctx); err != nil {
		return err
	}
	c.mail = resendtest.New(&testing.T{}, "re_chaos")
	haddr := "127.0.0.1:" + strconv.Itoa(hPort)
	c.base = "http://" + haddr
	settings := map[string]string{
		"mode": "dev", "database.url": dbURL, "temporal.address": "127.0.0.1:" + strconv.Itoa(tPort),
		"temporal.task_queue": c.queue, "http.addr": haddr, "public_url": c.base, "log.level": "warn",
		"email.provider": "resend", "email.resend.api_key": "re_chaos", "email.resend.base_url": c.mail.URL,
		"intake.rate_per_minute": "100000", "intake.captcha_max_number": "1000", "auth.login_per_minute": "100000",
	}
	env := []string{}
	m := map[string]any{}
	for k, v := range settings {
		env = append(env, "DSAR_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))+"="+v)
		m[k] = v
	}
	cfg, err := config.FromMap(m)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if c.app, err = app.Open(ctx, cfg, log); err != nil { // migrates
		return err
	}
	c.worker = bench.Service(c.dir, "worker", env, "")
	c.serve = bench.Service(c.dir, "serve", env, haddr)
	for _, p := range []*bench.Proc{c.worker, c.serve} {
		if err := p.Start(sctx); err != nil {
			return err
		}
	}
	u, err := c.app.CreateUser(ctx, "owner@chaos.example", "Chaos Owner", string(dsar.RoleOrgOwner), c.pw)
	if err != nil {
		return err
	}
	c.owner, err = c.login(ctx)
	if err != nil {
		return err
	}
	var ds struct{ ID string }
	if _, err := c.retry(ctx, "data source", func() (int, []byte, error) {
		return c.call(ctx, http.MethodPost, "/api/v1/data-sources", c.owner, map[string]any{"name": "CRM", "description": "customers",
			"owner_ids": []string{u.ID}}, &ds)
	}, http.StatusCreated); err != nil {
		return err
	}
	c.source = ds.ID
	return nil
}

func (c *chaos) stopAll() {
	for _, p := range []*bench.Proc{c.serve, c.worker, c.temporal} {
		if p != nil {
			p.Stop(10 * time.Second)
		}
	}
	if c.app != nil {
		c.app.Close()
	}
	if c.pg != nil {
		c.pg.Stop(10 * time.Second)
	}
}

func (c *chaos) login(ctx context.Context) (string, error) {
	var s struct{ Token string }
	_, err := c.retry(ctx, "login", func() (int, []byte, error) {
		return c.call(ctx, http.MethodPost, "/api/v1/sessions", "", map[string]string{"email": "owner@chaos.example", "password": c.pw}, &s)
	}, http.StatusCreated)
	return s.Token, err
}

// call makes one JSON call; out gets the answer when it is 2xx.
func (c *chaos) call(ctx context.Context, method, path, token string, body any, out any) (int, []byte, error) {
	return bench.Call(ctx, c.http, c.base, method, path, token, body, out)
}

// retry calls fn until it answers one of want, retrying on connection
// errors and 5xx (the system is being killed), within two minutes. Other
// answers are returned as errors.
func (c *chaos) retry(ctx context.Context, what string, fn func() (int, []byte, error), want ...int) (int, error) {
	return c.retryFor(ctx, 2*time.Minute, what, fn, want...)
}

// retryFor is retry within d.
func (c *chaos) retryFor(ctx context.Context, d time.Duration, what string, fn func() (int, []byte, error), want ...int) (int, error) {
	deadline := time.Now().Add(d)
	for {
		status, body, err := fn()
		if err == nil && slices.Contains(want, status) {
			return status, nil
		}
		if err == nil && status < 500 && status != http.StatusTooManyRequests {
			return status, fmt.Errorf("%s: %d %.200s", what, status, body)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return status, fmt.Errorf("%s: gave up: %d %v %.200s", what, status, err, body)
		}
		c.retries.Add(1)
		time.Sleep(300 * time.Millisecond)
	}
}

var tokenRE = regexp.MustCompile(`token=([A-Za-z0-9_\-]{43})`)

// scenario is one requester's request from the form to its close (or its
// rejection), with retries wherever the system is down. It returns the
// request's id once acknowledged.
func (c *chaos) scenario(ctx context.Context, i int, reject bool) (string, error) {
	email := fmt.Sprintf("requester-%d-%s@example.org", i, uuid.NewString()[:6])
	var ack struct{ ID string }
	for attempt := 0; ack.ID == ""; attempt++ {
		if attempt == 3 {
			return "", errors.New("no submission acknowledged after 3 keys")
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
			s, err := bench.SolveCaptcha(ctx, c.http, c.base)
			if err != nil {
				return 0, nil, err
			}
			captcha = s
			return http.StatusOK, nil, nil
		}, http.StatusOK); err != nil {
			return "", err
		}
		body, ctype := form(email, captcha)
		key := "chaos-" + uuid.NewString()
		// A 409 means another call holds the key: wait, as an API client
		// would, past store.IdempotencyAbandonedAfter, after which a retry
		// takes over the claim of a process that died mid-request and
		// finishes that request.
		patience := store.IdempotencyAbandonedAfter + 30*time.Second
		conflictSince := time.Time{}
		_, err := c.retryFor(ctx, patience+time.Minute, "submit", func() (int, []byte, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/requests", bytes.NewReader(body))
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
			return "", err
		}
	}
	id := ack.ID
	path := "/api/v1/requests/" + id

	// The requester confirms the email from the mail the workflow sends.
	tok, err := c.waitMail(ctx, email)
	if err != nil {
		return id, err
	}
	if err := c.step(ctx, id, dsar.StatusAwaitingIdentity, func() (int, []byte, error) {
		return c.call(ctx, http.MethodPost, "/api/v1/email-verifications", "", map[string]string{"token": tok}, nil)
	}); err != nil {
		return id, fmt.Errorf("verify email: %w", err)
	}
	if reject {
		return id, c.step(ctx, id, dsar.StatusRejected, func() (int, []byte, error) {
			return c.call(ctx, http.MethodPost, path+"/identity-verification", c.owner, map[string]any{"verified": false, "note": "no match"}, nil)
		})
	}
	steps := []struct {
		to   dsar.Status
		path string
		body any
	}{
		{dsar.StatusIdentityVerified, path + "/identity-verification", map[string]any{"verified": true, "note": "matches"}},
		{dsar.StatusInProgress, path + "/assignments", map[string]any{"data_source_ids": []string{c.source}}},
		{dsar.StatusReadyToClose, path + "/tasks/" + c.source + "/completion", map[string]any{"note": "exported"}},
		{dsar.StatusCompleted, path + "/completion", map[string]any{"note": "sent"}},
	}
	for _, s := range steps {
		if err := c.step(ctx, id, s.to, func() (int, []byte, error) { return c.call(ctx, http.MethodPost, s.path, c.owner, s.body, nil) }); err != nil {
			return id, fmt.Errorf("to %s: %w", s.to, err)
		}
	}
	return id, nil
}

// step does an action until the request shows status: an action whose
// answer was lost (the API was killed) is not repeated once its effect
// shows, and one refused because the workflow is catching up is tried
// again.
func (c *chaos) step(ctx context.Context, id string, to dsar.Status, action func() (int, []byte, error)) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		status, body, err := action()
		if err == nil && status >= 400 && status < 500 && status != http.StatusConflict && status != http.StatusGone &&
			status != http.StatusNotFound && status != http.StatusTooManyRequests {
			return fmt.Errorf("%d %.200s", status, body)
		}
		for range 20 {
			if got, _ := c.status(ctx, id); got == string(to) {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			got, _ := c.status(ctx, id)
			return fmt.Errorf("still %s after 3 minutes (last answer %d %v %.200s)", got, status, err, body)
		}
		c.retries.Add(1)
	}
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
	deadline := time.Now().Add(3 * time.Minute)
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
	return "", errors.New("no verification mail within 3 minutes")
}

// runningWorkflows counts the request workflows still running, after
// giving them time to finish: a database write that failed while Postgres
// was down is retried with backoff up to a minute, so a closing workflow
// may still be on its last writes when the scenarios end.
func (c *chaos) runningWorkflows(ctx context.Context) (int64, error) {
	q := "TaskQueue = '" + c.queue + "' AND ExecutionStatus = 'Running' AND WorkflowType = '" + workflows.WorkflowName + "'"
	var n int64
	for range 90 {
		res, err := c.app.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: q})
		if err != nil {
			return 0, err
		}
		if n = res.Count; n == 0 {
			return 0, nil
		}
		time.Sleep(time.Second)
	}
	return n, nil
}

// form is a valid submission for addr.
func form(addr, captcha string) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range map[string]string{"first_name": "Chaos", "last_name": "Requester", "email": addr, "country": "DE",
		"requestor_type": "customer", "request_type": "info", "description": "Please send my data.", "captcha": captcha} {
		_ = w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("identity_document", "id.png")
	var img bytes.Buffer
	_ = png.Encode(&img, image.NewGray(image.Rect(0, 0, 16, 16)))
	_, _ = fw.Write(img.Bytes())
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}
