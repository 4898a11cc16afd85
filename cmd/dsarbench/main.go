// Command dsarbench measures the service as `make run` starts it: the
// Temporal dev server, `dsar serve` and `dsar worker` as processes on
// loopback, over a fresh database on the Postgres server of DATABASE_URL.
// Each figure comes with its ceiling measured in the same run where there
// is one. It prints a table and writes the figures as JSON.
//
//	dsarbench [flags]               run every benchmark
//	dsarbench seed -n N [flags]     only seed N requests into DATABASE_URL's database
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
	"mime/multipart"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/bench"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "seed" {
		err = seedCommand(ctx, os.Args[2:])
	} else {
		err = run(ctx, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dsarbench:", err)
		os.Exit(1)
	}
}

// options are the sizes of a run.
type options struct {
	dbURL       string
	out         string
	concurrency int
	intake      int
	queue       int
	queueRuns   int
	actions     int
	// actionPace is the pause before each paced staff action.
	actionPace time.Duration
	scale      int
	scaleTimer time.Duration
	alerts     int
	// connectorRows are the subject's rows a connector exports and erases.
	connectorRows int
	keep          bool
	// workerBudget and workerCache set the worker's worker.memory_budget
	// and worker.sticky_cache_size ("" and 0: the config's defaults).
	workerBudget string
	workerCache  int
}

// seedCommand is `dsarbench seed`: n requests into the database at the
// URL, migrated first.
func seedCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	n := fs.Int("n", 1_000_000, "requests to add")
	dbURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "the database to seed (default $DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := store.Open(ctx, *dbURL, 4)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx, nil); err != nil {
		return err
	}
	start := time.Now()
	err = bench.SeedRequests(ctx, db, *n, func(done int) { fmt.Fprintf(os.Stderr, "seeded %d/%d\n", done, *n) })
	if err != nil {
		return err
	}
	fmt.Printf("seeded %d requests in %s\n", *n, time.Since(start).Round(time.Millisecond))
	return nil
}

func run(ctx context.Context, args []string) error {
	var o options
	fs := flag.NewFlagSet("dsarbench", flag.ContinueOnError)
	fs.StringVar(&o.dbURL, "database-url", os.Getenv("DATABASE_URL"), "a Postgres server where the run may create its own database (default $DATABASE_URL)")
	fs.StringVar(&o.out, "out", "bench-results.json", "where to write the figures (JSON)")
	fs.IntVar(&o.concurrency, "concurrency", 8, "clients in parallel")
	fs.IntVar(&o.intake, "intake", 1000, "form submissions (and raw workflow starts) to time")
	fs.IntVar(&o.queue, "queue", 1_000_000, "requests seeded into the queue")
	fs.IntVar(&o.queueRuns, "queue-runs", 2000, "queue pages (and bare queries) to time")
	fs.IntVar(&o.actions, "actions", 50, "staff actions to time, paced and again back to back")
	fs.DurationVar(&o.actionPace, "action-pace", 300*time.Millisecond, "pause before each paced staff action (a person's pace)")
	fs.IntVar(&o.scale, "scale", 10_000, "open requests waiting on timers")
	fs.DurationVar(&o.scaleTimer, "scale-timer", 0, "when their verification expires, after submission (default: enough to start them all)")
	fs.IntVar(&o.alerts, "alerts", 100_000, "pending alerts in the digest")
	fs.IntVar(&o.connectorRows, "connector-rows", 1_000_000, "rows of one subject a SQL connector exports and erases")
	fs.BoolVar(&o.keep, "keep", false, "keep the database and the logs")
	fs.StringVar(&o.workerBudget, "worker-budget", "", "the worker's worker.memory_budget, e.g. 256MiB (default: the config's)")
	fs.IntVar(&o.workerCache, "worker-cache", 0, "the worker's worker.sticky_cache_size (default: derived from its memory budget)")
	only := fs.String("only", "", "run only these benchmarks (comma-separated: intake,queue,actions,scale,digest,connector)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.dbURL == "" {
		return errors.New("set DATABASE_URL (or -database-url) to a Postgres server; make bench does")
	}
	b, err := setUp(ctx, o)
	if err != nil {
		return err
	}
	defer b.tearDown()

	res := &results{Sizes: map[string]any{"intake": o.intake, "concurrency": o.concurrency, "queue": o.queue,
		"queue_runs": o.queueRuns, "actions": o.actions, "scale": o.scale, "alerts": o.alerts, "connector_rows": o.connectorRows}, StartedAt: time.Now().UTC()}
	steps := []struct {
		name string
		fn   func(context.Context, *results) error
	}{
		{"intake", b.intake}, {"queue", b.queueBench}, {"actions", b.actionLatency}, {"scale", b.scaleRun}, {"digest", b.digest},
		{"connector", b.connectorBench},
	}
	if *only != "" {
		keep := steps[:0]
		for _, s := range steps {
			if strings.Contains(","+*only+",", ","+s.name+",") {
				keep = append(keep, s)
			}
		}
		steps = keep
	}
	failed := 0
	for _, s := range steps {
		b.logf("== %s", s.name)
		if err := s.fn(ctx, res); err != nil {
			// Keep the other figures; say what failed.
			failed++
			b.logf("%s: %v", s.name, err)
			res.Errors = append(res.Errors, s.name+": "+err.Error())
		}
	}
	res.FinishedAt = time.Now().UTC()
	js, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(o.out, append(js, '\n'), 0o644); err != nil {
		return err
	}
	res.print(os.Stdout)
	fmt.Printf("\nfigures written to %s\n", o.out)
	for _, e := range res.Errors {
		fmt.Println("FAILED:", e)
	}
	if failed > 0 {
		b.failed = true
		return fmt.Errorf("%d of %d benchmarks failed", failed, len(steps))
	}
	return nil
}

// results are the figures of a run.
type results struct {
	Sizes      map[string]any `json:"sizes"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
	Figures    []figure       `json:"figures"`
	Errors     []string       `json:"errors,omitempty"`
}

// figure is one measured number and, where there is one, its ceiling,
// the figure before the work that set an aim (Was, with WasNote saying
// when), and that aim: at most AimMax.
type figure struct {
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Ceiling float64 `json:"ceiling,omitempty"`
	Of      string  `json:"ceiling_is,omitempty"`
	Ratio   float64 `json:"ratio,omitempty"`
	Was     float64 `json:"was,omitempty"`
	WasNote string  `json:"was_note,omitempty"`
	AimMax  float64 `json:"aim_max,omitempty"`
	AimMet  *bool   `json:"aim_met,omitempty"`
	Note    string  `json:"note,omitempty"`
}

func (r *results) add(f figure) {
	if f.Ceiling != 0 {
		f.Ratio = f.Value / f.Ceiling
	}
	if f.AimMax != 0 {
		met := f.Value <= f.AimMax
		f.AimMet = &met
	}
	r.Figures = append(r.Figures, f)
}

func (r *results) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tceiling (same run)\tratio\tbefore\taim\tnote")
	for _, f := range r.Figures {
		ceiling, ratio, was, aim := "", "", "", ""
		if f.Ceiling != 0 {
			ceiling = fmt.Sprintf("%.2f %s (%s)", f.Ceiling, f.Unit, f.Of)
			ratio = fmt.Sprintf("%.2f×", f.Ratio)
		}
		if f.Was != 0 {
			was = fmt.Sprintf("%.0f %s (%s)", f.Was, f.Unit, f.WasNote)
		}
		if f.AimMet != nil {
			aim = fmt.Sprintf("≤ %.0f %s ✘", f.AimMax, f.Unit)
			if *f.AimMet {
				aim = strings.TrimSuffix(aim, "✘") + "✔"
			}
		}
		fmt.Fprintf(tw, "%s\t%.2f %s\t%s\t%s\t%s\t%s\t%s\n", f.Name, f.Value, f.Unit, ceiling, ratio, was, aim, f.Note)
	}
	_ = tw.Flush()
}

// benchEnv is a running system and the client side of it.
type benchEnv struct {
	o        options
	dir      string
	dbName   string
	temporal *bench.Proc
	serve    *bench.Proc
	worker   *bench.Proc
	app      *app.App // the bench's own view: database, keys, Temporal client
	base     string   // the API's URL
	http     *http.Client
	token    string // an org owner's session
	queue    string // the task queue
	failed   bool   // a benchmark failed: keep the logs
}

func (b *benchEnv) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// setUp builds the binaries, creates the database, starts Temporal, the
// API and the worker, and an org owner.
func setUp(ctx context.Context, o options) (*benchEnv, error) {
	b := &benchEnv{o: o, http: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	var err error
	if b.dir, err = os.MkdirTemp("", "dsarbench-"); err != nil {
		return nil, err
	}
	b.logf("building (logs in %s)", b.dir)
	if err := bench.Build(ctx); err != nil {
		return nil, err
	}
	b.dbName = "dsar_bench_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	admin, err := sqlx.Open("postgres", o.dbURL)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+b.dbName); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	dbURL, err := withDatabase(o.dbURL, b.dbName)
	if err != nil {
		return nil, err
	}
	tport, _ := bench.FreePort()
	hport, _ := bench.FreePort()
	taddr := "127.0.0.1:" + strconv.Itoa(tport)
	haddr := "127.0.0.1:" + strconv.Itoa(hport)
	b.base = "http://" + haddr
	b.queue = "dsarbench"
	settings := map[string]string{
		"mode": "dev", "database.url": dbURL, "temporal.address": taddr, "temporal.task_queue": b.queue,
		"http.addr": haddr, "public_url": b.base, "log.level": "warn",
		"intake.rate_per_minute": "100000000", "intake.captcha_max_number": "1000", "auth.login_per_minute": "100000",
		// Every request comes from one address: no caps on unconfirmed requests, and the captcha's work stays put.
		"intake.unverified_per_email": "100000000", "intake.unverified_per_network": "100000000", "intake.captcha_max_number_ceiling": "1000",
		"database.max_open_conns": "40",
	}
	if o.workerBudget != "" {
		settings["worker.memory_budget"] = o.workerBudget
	}
	if o.workerCache != 0 {
		settings["worker.sticky_cache_size"] = strconv.Itoa(o.workerCache)
	}
	env := []string{}
	m := map[string]any{}
	for k, v := range settings {
		env = append(env, "DSAR_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))+"="+v)
		m[k] = v
	}
	cfg, err := config.FromMap(m)
	if err != nil {
		return nil, err
	}
	b.logf("starting the Temporal dev server on %s", taddr)
	b.temporal = bench.Temporal(b.dir, tport, "")
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := b.temporal.Start(startCtx); err != nil {
		return b, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if b.app, err = app.Open(ctx, cfg, log); err != nil {
		return b, err
	}
	b.serve = bench.Service(b.dir, "serve", env, haddr)
	b.worker = bench.Service(b.dir, "worker", env, "")
	for _, p := range []*bench.Proc{b.worker, b.serve} {
		if err := p.Start(startCtx); err != nil {
			return b, err
		}
	}
	const pw = "bench password, long enough"
	if _, err := b.app.CreateUser(ctx, "owner@bench.example", "Bench Owner", string(dsar.RoleOrgOwner), pw); err != nil {
		return b, err
	}
	var s struct{ Token string }
	if err := b.call(ctx, http.MethodPost, "/api/v1/sessions", "", map[string]string{"email": "owner@bench.example", "password": pw}, http.StatusCreated, &s); err != nil {
		return b, err
	}
	b.token = s.Token
	return b, nil
}

func (b *benchEnv) tearDown() {
	for _, p := range []*bench.Proc{b.serve, b.worker, b.temporal} {
		if p != nil {
			p.Stop(10 * time.Second)
		}
	}
	if b.app != nil {
		b.app.Close()
	}
	if b.o.keep {
		b.logf("kept database %s and logs in %s", b.dbName, b.dir)
		return
	}
	if b.failed {
		b.logf("a benchmark failed: kept the logs in %s", b.dir)
		for _, name := range []string{"serve", "worker"} {
			for _, line := range errorLines(filepath.Join(b.dir, name+".log"), 10) {
				b.logf("%s: %s", name, line)
			}
		}
	}
	if admin, err := sqlx.Open("postgres", b.o.dbURL); err == nil {
		_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + b.dbName + ` WITH (FORCE)`)
		admin.Close()
	}
	if !b.failed {
		_ = os.RemoveAll(b.dir)
	}
}

// errorLines returns the first n error lines of a service's log.
func errorLines(path string, n int) []string {
	data, _ := os.ReadFile(path)
	var out []string
	for line := range strings.SplitSeq(string(data), "\n") {
		if (strings.Contains(line, "level=ERROR") || strings.Contains(line, `"level":"ERROR"`)) && len(out) < n {
			out = append(out, line)
		}
	}
	return out
}

// withDatabase is url with its database name replaced.
func withDatabase(raw, name string) (string, error) {
	i := strings.Index(raw, "://")
	if i < 0 {
		return "", errors.New("DATABASE_URL must be a postgres:// URL")
	}
	rest := raw[i+3:]
	j := strings.IndexAny(rest, "/?")
	query := ""
	if q := strings.Index(rest, "?"); q >= 0 {
		query = rest[q:]
	}
	host := rest
	if j >= 0 {
		host = rest[:j]
	}
	return raw[:i+3] + host + "/" + name + query, nil
}

// call makes a JSON call and decodes the answer into out (if not nil).
func (b *benchEnv) call(ctx context.Context, method, path, token string, body any, want int, out any) error {
	status, data, err := bench.Call(ctx, b.http, b.base, method, path, token, body, out)
	if err == nil && status != want {
		err = fmt.Errorf("%s %s = %d: %.300s", method, path, status, data)
	}
	return err
}

// parallel runs fn(i) for i in [0, n) on c goroutines; the first error wins.
func parallel(n, c int, fn func(i int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range min(c, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// document is a small PNG, the identity document of every submission.
func document() []byte {
	img := image.NewGray(image.Rect(0, 0, 32, 24))
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// submission is an encoded form submission.
type submission struct {
	body  []byte
	ctype string
}

// submissions solves n captchas and encodes n valid forms.
func (b *benchEnv) submissions(ctx context.Context, n int) ([]submission, error) {
	doc := document()
	subs := make([]submission, n)
	err := parallel(n, b.o.concurrency, func(i int) error {
		captcha, err := bench.SolveCaptcha(ctx, b.http, b.base)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for k, v := range map[string]string{"first_name": "Bench", "last_name": "Mark " + strconv.Itoa(i),
			"email": fmt.Sprintf("bench-%d-%s@example.org", i, uuid.NewString()[:6]), "country": "DE", "requestor_type": "customer",
			"request_type": "info", "description": "A benchmark request.", "captcha": captcha} {
			_ = w.WriteField(k, v)
		}
		fw, _ := w.CreateFormFile("identity_document", "id.png")
		_, _ = fw.Write(doc)
		_ = w.Close()
		subs[i] = submission{buf.Bytes(), w.FormDataContentType()}
		return nil
	})
	return subs, err
}

// submit posts one submission and returns the request's id.
func (b *benchEnv) submit(ctx context.Context, s submission) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/api/v1/requests", bytes.NewReader(s.body))
	req.Header.Set("Content-Type", s.ctype)
	res, err := b.http.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("submit = %d: %.300s", res.StatusCode, data)
	}
	var got struct{ ID string }
	return got.ID, json.Unmarshal(data, &got)
}

// intake times end-to-end form submissions against raw StartWorkflow
// calls on the same dev server, with the same concurrency. The worker is
// stopped while both are timed, so that neither pays for running the
// workflows it starts (the raw starts go to a task queue no worker polls);
// then it runs the forms' workflows before the next benchmark.
func (b *benchEnv) intake(ctx context.Context, r *results) error {
	n, warm := b.o.intake, b.o.concurrency
	b.logf("solving %d captchas", n+warm)
	subs, err := b.submissions(ctx, n+warm)
	if err != nil {
		return err
	}
	b.worker.Stop(30 * time.Second)
	submit := func(subs []submission) (float64, error) {
		start := time.Now()
		err := parallel(len(subs), b.o.concurrency, func(i int) error {
			_, err := b.submit(ctx, subs[i])
			return err
		})
		return float64(len(subs)) / time.Since(start).Seconds(), err
	}
	// The raw start is the call intake makes (options and input alike),
	// to a task queue no worker polls.
	startRaw := func(n int) (float64, error) {
		now := time.Now().UTC().Truncate(time.Second)
		start := time.Now()
		err := parallel(n, b.o.concurrency, func(i int) error {
			id := uuid.NewString()
			_, err := b.app.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID: workflows.WorkflowID(id), TaskQueue: "dsarbench-raw",
				WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			}, workflows.WorkflowName, workflows.Input{RequestID: id, RequestType: dsar.RequestInfo,
				RequestorType: dsar.RequestorCustomer, Country: "DE", SubmittedAt: now, Deadline: now.AddDate(0, 1, 0),
				DeadlineRule: "gdpr", MaxExtension: dsar.Period{Months: 2}, Periods: workflows.PeriodsOf(b.app.Config)})
			return err
		})
		return float64(n) / time.Since(start).Seconds(), err
	}
	// Warm both paths (connections, first calls) untimed.
	if _, err := submit(subs[:warm]); err != nil {
		return err
	}
	if _, err := startRaw(warm); err != nil {
		return err
	}
	// Interleaved in rounds, so that a slow spell of the machine weighs on
	// both alike.
	const rounds = 5
	b.logf("submitting %d forms and starting %d workflows directly, %d at a time, in %d rounds", n, n, b.o.concurrency, rounds)
	var formTime, rawTime time.Duration
	cpuForms, cpuRaw := cpuTimes{}, cpuTimes{}
	for i := range rounds {
		batch := subs[warm+i*n/rounds : warm+(i+1)*n/rounds]
		c0 := readCPU()
		t0 := time.Now()
		if _, err := submit(batch); err != nil {
			return err
		}
		formTime += time.Since(t0)
		c1 := readCPU()
		t0 = time.Now()
		if _, err := startRaw(len(batch)); err != nil {
			return err
		}
		rawTime += time.Since(t0)
		c2 := readCPU()
		cpuForms.add(c1, c0)
		cpuRaw.add(c2, c1)
	}
	form, raw := float64(n)/formTime.Seconds(), float64(n)/rawTime.Seconds()
	r.add(figure{Name: "intake: form submissions end to end", Value: form, Unit: "req/s", Ceiling: raw, Of: "raw StartWorkflow/s",
		Note: fmt.Sprintf("%d submissions, %d clients, captchas solved beforehand, worker stopped meanwhile", n, b.o.concurrency)})
	r.add(figure{Name: "intake: CPU per form submission", Value: cpuForms.total() * 1000 / float64(n), Unit: "ms",
		Note: "by process, ms: " + cpuForms.per(n)})
	r.add(figure{Name: "intake: CPU per raw StartWorkflow", Value: cpuRaw.total() * 1000 / float64(n), Unit: "ms",
		Note: "by process, ms: " + cpuRaw.per(n)})

	b.logf("starting the worker again; waiting for the %d verification mails", n+warm)
	wait := 2*time.Minute + time.Duration(n)*50*time.Millisecond
	startCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := b.worker.Start(startCtx); err != nil {
		return err
	}
	for {
		var mails int
		if err := b.app.DB.GetContext(ctx, &mails, `SELECT count(*) FROM outbox_mail`); err != nil {
			return err
		}
		if mails >= n+warm {
			return nil
		}
		select {
		case <-startCtx.Done():
			return fmt.Errorf("%d of %d verification mails after %s", mails, n+warm, wait)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// queueBench seeds the queue and times a filtered page of 50 through the API
// against the same SQL run bare.
func (b *benchEnv) queueBench(ctx context.Context, r *results) error {
	b.logf("seeding %d requests", b.o.queue)
	start := time.Now()
	if err := bench.SeedRequests(ctx, b.app.DB, b.o.queue, func(done int) { b.logf("seeded %d", done) }); err != nil {
		return err
	}
	b.logf("seeded in %s", time.Since(start).Round(time.Millisecond))
	// A queue of a million requests grew over months, with autovacuum
	// over it: vacuumed and analyzed, its visibility map set (the counts
	// read their index alone), its hint bits written. Timed straight after
	// the bulk seed instead, the pages would share the machine with
	// autovacuum's first pass over it, and their first reads would write.
	b.logf("vacuuming the queue")
	if _, err := b.app.DB.ExecContext(ctx, `VACUUM (ANALYZE) requests`); err != nil {
		return err
	}
	filters := []string{"status=in_progress&country=DE", "request_type=deletion", "status=awaiting_identity&requestor_type=employee", "overdue=true", "country=FR"}
	const bare = `SELECT r.id, r.request_type, r.requestor_type, r.country, r.region, r.status,
		r.submitted_at, r.deadline, r.overdue FROM requests r WHERE r.accepted AND r.status = ANY($1) AND r.country = $2
		ORDER BY r.submitted_at DESC, r.id DESC LIMIT 51`
	// Warm both paths once.
	_ = b.call(ctx, http.MethodGet, "/api/v1/requests?limit=50&"+filters[0], b.token, nil, http.StatusOK, nil)
	if err := b.timePages(ctx, r, filters[0], bare, "{in_progress}", "DE"); err != nil {
		return err
	}
	// The other filters, p99 each, through the API.
	for _, f := range filters[1:] {
		ds := make([]time.Duration, 0, 50)
		for range 50 {
			t0 := time.Now()
			if err := b.call(ctx, http.MethodGet, "/api/v1/requests?limit=50&"+f, b.token, nil, http.StatusOK, nil); err != nil {
				return err
			}
			ds = append(ds, time.Since(t0))
		}
		r.add(figure{Name: "queue: " + f + ", p99", Value: bench.Millis(bench.Percentile(ds, 99)), Unit: "ms", Note: "50 pages"})
	}
	// The dashboard's counts (per status, open, overdue) over the whole queue.
	ds := make([]time.Duration, 0, 50)
	for range 50 {
		t0 := time.Now()
		if err := b.call(ctx, http.MethodGet, "/api/v1/requests/counts", b.token, nil, http.StatusOK, nil); err != nil {
			return err
		}
		ds = append(ds, time.Since(t0))
	}
	r.add(figure{Name: "queue: dashboard counts, p50 / p99", Value: bench.Millis(bench.Percentile(ds, 50)), Unit: "ms",
		Note: fmt.Sprintf("p99 %.1f ms; GET /api/v1/requests/counts over %d requests (vacuumed), 50 calls", bench.Millis(bench.Percentile(ds, 99)), b.o.queue)})
	return nil
}

// timePages times queueRuns pages of 50 for filter through the API against
// the same query run bare (bare with args), and adds their p50 and p99.
func (b *benchEnv) timePages(ctx context.Context, r *results, filter, bare string, args ...any) error {
	api := make([]time.Duration, 0, b.o.queueRuns)
	sqlTimes := make([]time.Duration, 0, b.o.queueRuns)
	hop := make([]time.Duration, 0, b.o.queueRuns) // GET /healthz: an HTTP call that does nothing
	served0, err := b.served(ctx, "/api/v1/requests")
	if err != nil {
		return err
	}
	for range b.o.queueRuns {
		// Timed to the answer's last byte (as the bare query is to its
		// last row); decoding it is the client's work and is not timed.
		t0 := time.Now()
		status, data, err := bench.Call(ctx, b.http, b.base, http.MethodGet, "/api/v1/requests?limit=50&"+filter, b.token, nil, nil)
		api = append(api, time.Since(t0))
		if err != nil {
			return err
		}
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(data, &page); status != http.StatusOK || err != nil || len(page.Items) != 50 {
			return fmt.Errorf("queue page: status %d, %d requests (want 50), %v: %.300s", status, len(page.Items), err, data)
		}
		t0 = time.Now()
		if status, _, err := bench.Call(ctx, b.http, b.base, http.MethodGet, "/healthz", "", nil, nil); err != nil || status != http.StatusOK {
			return fmt.Errorf("health: status %d, %v", status, err)
		}
		hop = append(hop, time.Since(t0))
		var rows []store.QueueItem
		t0 = time.Now()
		if err := b.app.DB.SelectContext(ctx, &rows, bare, args...); err != nil {
			return err
		}
		sqlTimes = append(sqlTimes, time.Since(t0))
	}
	served1, err := b.served(ctx, "/api/v1/requests")
	if err != nil {
		return err
	}
	note := fmt.Sprintf("%s over %d requests, %d pages", filter, b.o.queue, b.o.queueRuns)
	r.add(figure{Name: "queue: filtered page of 50, p50", Value: bench.Millis(bench.Percentile(api, 50)), Unit: "ms",
		Ceiling: bench.Millis(bench.Percentile(sqlTimes, 50)), Of: "bare SQL p50", Note: note})
	r.add(figure{Name: "queue: filtered page of 50, p99", Value: bench.Millis(bench.Percentile(api, 99)), Unit: "ms",
		Ceiling: bench.Millis(bench.Percentile(sqlTimes, 99)), Of: "bare SQL p99", Note: note})
	// Where the API's time goes: the mean inside the API process (its own
	// latency histogram) against the means of the page and the bare query.
	if n := served1.count - served0.count; n > 0 {
		inside := time.Duration((served1.seconds - served0.seconds) / n * float64(time.Second))
		r.add(figure{Name: "queue: page of 50 inside the API process, mean", Value: bench.Millis(inside), Unit: "ms",
			Ceiling: bench.Millis(mean(sqlTimes)), Of: "bare SQL mean",
			Note: fmt.Sprintf("the page's mean at the client %.2f ms; the rest is the HTTP hop between processes (GET /healthz: mean %.2f ms); "+
				"%.0f garbage collections in the API process meanwhile", bench.Millis(mean(api)), bench.Millis(mean(hop)), served1.collections-served0.collections)})
	}
	return nil
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(max(len(ds), 1))
}

// servedTime is the API's own tally of a route's GET calls: how many, and
// their total time in seconds; and of its garbage collections so far.
type servedTime struct{ count, seconds, collections float64 }

// served reads route's tally from the API's /metrics (the latency
// histogram's _count and _sum; the route must have been called before) and
// the number of collections of the API process's Go runtime.
func (b *benchEnv) served(ctx context.Context, route string) (servedTime, error) {
	status, data, err := bench.Call(ctx, b.http, b.base, http.MethodGet, "/metrics", "", nil, nil)
	if err != nil || status != http.StatusOK {
		return servedTime{}, fmt.Errorf("metrics: status %d, %v", status, err)
	}
	var t servedTime
	labels := `{method="GET",route="` + route + `"}`
	for series, v := range map[string]*float64{
		"dsar_http_request_duration_seconds_count" + labels: &t.count,
		"dsar_http_request_duration_seconds_sum" + labels:   &t.seconds,
		"go_gc_duration_seconds_count":                      &t.collections,
	} {
		i := strings.Index(string(data), "\n"+series+" ")
		if i < 0 {
			return servedTime{}, fmt.Errorf("metrics: no series %s", series)
		}
		value, _, _ := strings.Cut(string(data[i+len(series)+2:]), "\n")
		if *v, err = strconv.ParseFloat(value, 64); err != nil {
			return servedTime{}, fmt.Errorf("metrics: %s: %w", series, err)
		}
	}
	return t, nil
}

// awaitingIdentity submits n requests and verifies their email (the
// workflow's signal, as the link does), waiting until they await identity.
func (b *benchEnv) awaitingIdentity(ctx context.Context, n int) ([]string, error) {
	subs, err := b.submissions(ctx, n)
	if err != nil {
		return nil, err
	}
	ids := make([]string, n)
	err = parallel(n, b.o.concurrency, func(i int) error {
		id, err := b.submit(ctx, subs[i])
		if err != nil {
			return err
		}
		ids[i] = id
		if err := b.app.Temporal.SignalWorkflow(ctx, workflows.WorkflowID(id), "", workflows.SignalEmailVerified,
			workflows.EmailVerified{Action: workflows.Action{At: time.Now().UTC(), RequestID: id}}); err != nil {
			return err
		}
		return b.waitStatus(ctx, id, dsar.StatusAwaitingIdentity, time.Minute, time.Millisecond*20)
	})
	return ids, err
}

// waitStatus polls the request's detail until it shows status.
func (b *benchEnv) waitStatus(ctx context.Context, id string, status dsar.Status, within, every time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var d struct {
			Status dsar.Status `json:"status"`
		}
		if err := b.call(ctx, http.MethodGet, "/api/v1/requests/"+id, b.token, nil, http.StatusOK, &d); err != nil {
			return err
		}
		if d.Status == status {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("request %s is %s after %s, want %s", id, d.Status, within, status)
		}
		time.Sleep(every)
	}
}

// actionLatency times staff action → applied and answered: the API
// answers an action with the outcome the workflow recorded (200 and the
// state it left), so the answer is the end of the action. The detail is
// then read once: it must show that state already. The actions are timed
// twice: paced as a person acts (a pause before each, so the last one's
// follow-up work, such as the identity document's deletion, is done), and
// back to back (each sent as the last is answered, sharing the cores with
// its follow-up).
func (b *benchEnv) actionLatency(ctx context.Context, r *results) error {
	n := b.o.actions
	b.logf("preparing %d requests awaiting identity", 2*n)
	ids, err := b.awaitingIdentity(ctx, 2*n)
	if err != nil {
		return err
	}
	b.logf("timing %d identity decisions %s apart, then %d back to back", n, b.o.actionPace, n)
	paced, err := b.timeActions(ctx, ids[:n], b.o.actionPace)
	if err != nil {
		return err
	}
	burst, err := b.timeActions(ctx, ids[n:], 0)
	if err != nil {
		return err
	}
	was := "202, then the detail polled until it changed"
	note := fmt.Sprintf("%d identity decisions, one every %s as a person acts: POST until its 200 with the applied state (the detail shows it at once)", n, b.o.actionPace)
	r.add(figure{Name: "action → applied and answered, p50", Value: bench.Millis(bench.Percentile(paced.lat, 50)), Unit: "ms",
		Was: 50, WasNote: was, AimMax: 30, Note: note})
	r.add(figure{Name: "action → applied and answered, p99", Value: bench.Millis(bench.Percentile(paced.lat, 99)), Unit: "ms",
		Was: 97, WasNote: was, AimMax: 150})
	r.add(figure{Name: "action back to back → applied and answered, p50 / p99", Value: bench.Millis(bench.Percentile(burst.lat, 50)), Unit: "ms",
		Note: fmt.Sprintf("p99 %.1f ms; %d decisions, each sent as the last was answered, beside its follow-up work", bench.Millis(bench.Percentile(burst.lat, 99)), n)})
	for _, run := range []struct {
		name string
		t    actionTimes
	}{{"paced", paced}, {"back to back", burst}} {
		if err := b.actionBreakdown(ctx, r, run.name, run.t); err != nil {
			return err
		}
	}
	return nil
}

// actionTimes are the requests a run of actions went to, when each was
// sent and answered, and the latencies.
type actionTimes struct {
	ids            []string
	sent, answered []time.Time
	lat            []time.Duration
}

// timeActions decides the identity of each request in ids, one at a time,
// after pausing pace before each.
func (b *benchEnv) timeActions(ctx context.Context, ids []string, pace time.Duration) (actionTimes, error) {
	t := actionTimes{ids: ids, sent: make([]time.Time, len(ids)), answered: make([]time.Time, len(ids))}
	for i, id := range ids {
		if pace > 0 {
			select {
			case <-time.After(pace):
			case <-ctx.Done():
				return t, ctx.Err()
			}
		}
		t.sent[i] = time.Now()
		var answer struct {
			Status dsar.Status `json:"status"`
		}
		if err := b.call(ctx, http.MethodPost, "/api/v1/requests/"+id+"/identity-verification", b.token,
			map[string]any{"verified": true, "note": "bench"}, http.StatusOK, &answer); err != nil {
			return t, err
		}
		t.answered[i] = time.Now()
		t.lat = append(t.lat, t.answered[i].Sub(t.sent[i]))
		if answer.Status != dsar.StatusIdentityVerified {
			return t, fmt.Errorf("request %s: the action was answered %s, want %s", id, answer.Status, dsar.StatusIdentityVerified)
		}
		if err := b.waitStatus(ctx, id, dsar.StatusIdentityVerified, 0, 0); err != nil {
			return t, fmt.Errorf("the detail after the answer: %w", err)
		}
	}
	return t, nil
}

// actionBreakdown adds where a run's time went, from the histories (the
// server's clock is this machine's): until the signal is in the history,
// until a worker has started the task it woke, and from then until the
// answer.
func (b *benchEnv) actionBreakdown(ctx context.Context, r *results, name string, at actionTimes) error {
	var toSignal, toTask, inTask, toAnswer []time.Duration
	for i, id := range at.ids[:min(len(at.ids), 20)] {
		t, err := b.signalAndTask(ctx, id, workflows.SignalIdentityDecided)
		if err != nil {
			return err
		}
		toSignal = append(toSignal, t.signaled.Sub(at.sent[i]))
		toTask = append(toTask, t.started.Sub(t.signaled))
		inTask = append(inTask, t.completed.Sub(t.started))
		toAnswer = append(toAnswer, at.answered[i].Sub(t.started))
	}
	p50 := func(ds []time.Duration) float64 { return bench.Millis(bench.Percentile(ds, 50)) }
	r.add(figure{Name: "action (" + name + "): POST → signal in the history, p50", Value: p50(toSignal), Unit: "ms",
		Note: fmt.Sprintf("then a worker started the task it woke in %.1f ms; the answer came %.1f ms after that, the task completed %.1f ms after it started (p50s of %d histories)",
			p50(toTask), p50(toAnswer), p50(inTask), len(toSignal))})
	return nil
}

// taskTimes are when a signal was recorded, and when the workflow task
// after it started and completed.
type taskTimes struct{ signaled, started, completed time.Time }

// signalAndTask reads a workflow's history for the first signal named
// signal and the workflow task after it.
func (b *benchEnv) signalAndTask(ctx context.Context, id, signal string) (taskTimes, error) {
	var t taskTimes
	it := b.app.Temporal.GetWorkflowHistory(ctx, workflows.WorkflowID(id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return t, err
		}
		switch {
		case t.signaled.IsZero():
			if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.SignalName == signal {
				t.signaled = ev.EventTime.AsTime()
			}
		case t.started.IsZero():
			if ev.GetWorkflowTaskStartedEventAttributes() != nil {
				t.started = ev.EventTime.AsTime()
			}
		case ev.GetWorkflowTaskCompletedEventAttributes() != nil:
			t.completed = ev.EventTime.AsTime()
			return t, nil
		}
	}
	return t, fmt.Errorf("request %s: no %s signal and task after it in the history", id, signal)
}

// scaleRun starts K requests whose verification expires after a short
// timer, samples the worker's memory while they wait, and checks that every
// timer fired on time.
func (b *benchEnv) scaleRun(ctx context.Context, r *results) error {
	k := b.o.scale
	expiry := b.o.scaleTimer
	if expiry == 0 {
		expiry = max(time.Minute, time.Duration(k)*40*time.Millisecond)
	}
	b.logf("starting %d requests whose verification expires %s after submission (no reminder)", k, expiry)
	rule, _ := b.app.Config.Jurisdictions.Match("DE", "")
	var peak atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go func() {
		for sampleCtx.Err() == nil {
			if v := b.worker.RSS(); v > peak.Load() {
				peak.Store(v)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	baseRSS := b.worker.RSS()
	start := time.Now()
	ids := make([]string, k)
	err := parallel(k, b.o.concurrency, func(i int) error {
		id := uuid.NewString()
		ids[i] = id
		now := time.Now().UTC()
		email := fmt.Sprintf("scale-%d@example.org", i)
		sealed, err := store.NewSealedRequest(b.app.Keys, id, store.PII{FirstName: "Scale", LastName: "Test", Email: email,
			Description: "waiting on a timer"}, nil)
		if err != nil {
			return err
		}
		nr := store.NewRequest{ID: id, RequestType: dsar.RequestInfo, RequestorType: dsar.RequestorCustomer, Country: "DE",
			SubmittedAt: now, Deadline: rule.Period.AddTo(now), DeadlineRule: rule.ID, DeadlineRuleName: rule.Name,
			MaxExtension: rule.Extension, Sealed: sealed}
		if err := b.app.DB.CreateRequest(ctx, nr); err != nil {
			return err
		}
		_, err = b.app.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(id), TaskQueue: b.queue},
			workflows.WorkflowName, workflows.Input{RequestID: id, RequestType: nr.RequestType, RequestorType: nr.RequestorType,
				Country: "DE", SubmittedAt: now, Deadline: nr.Deadline, DeadlineRule: rule.ID, MaxExtension: rule.Extension,
				Periods: workflows.Periods{VerificationExpiry: expiry,
					ReminderEvery: 720 * time.Hour, StallAfter: 720 * time.Hour, DeadlineWarningBefore: time.Hour,
					OverdueAlertEvery: 720 * time.Hour, AssignmentAlertEvery: 720 * time.Hour}})
		if err != nil {
			return err
		}
		return b.app.DB.AcceptRequest(ctx, id)
	})
	if err != nil {
		return err
	}
	started := time.Since(start)
	rssOpen := b.worker.RSS()
	b.logf("started %d in %s (worker RSS %.0f MiB); waiting for their timers", k, started.Round(time.Millisecond), float64(rssOpen)/(1<<20))
	const q = `SELECT count(*) FILTER (WHERE status = 'expired'),
		coalesce(array_agg(EXTRACT(EPOCH FROM closed_at - (submitted_at + $2::interval))) FILTER (WHERE status = 'expired'), '{}')
		FROM requests WHERE id = ANY($1)`
	const grace = 10 * time.Minute
	deadline := start.Add(expiry + grace)
	var fired int
	var lateness []float64
	for {
		var late []float64
		if err := b.app.DB.QueryRowContext(ctx, q, pq.Array(ids), fmt.Sprintf("%d milliseconds", expiry.Milliseconds())).Scan(&fired, pq.Array(&late)); err != nil {
			return err
		}
		lateness = late
		if fired == k || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	stopSampling()
	lat := make([]time.Duration, len(lateness))
	for i, s := range lateness {
		lat[i] = time.Duration(s * float64(time.Second))
	}
	timerLate, err := b.timerLateness(ctx, ids[:min(len(ids), 200)])
	if err != nil {
		return err
	}
	r.add(figure{Name: "scale: Temporal timer fired after due, p99", Value: bench.Millis(bench.Percentile(timerLate, 99)), Unit: "ms",
		Note: fmt.Sprintf("TimerFired − (TimerStarted + timeout) in the histories of %d of them", len(timerLate))})
	r.add(figure{Name: "scale: Temporal timer fired after due, max", Value: bench.Millis(bench.Percentile(timerLate, 100)), Unit: "ms"})
	onTime := 0
	for _, l := range lat {
		if l <= 5*time.Second {
			onTime++
		}
	}
	note := fmt.Sprintf("%d requests, verification expiry %s, started in %s", k, expiry, started.Round(time.Second))
	r.add(figure{Name: "scale: timers fired", Value: float64(fired), Unit: "of " + strconv.Itoa(k), Note: note})
	r.add(figure{Name: "scale: fired within 5 s of due", Value: float64(onTime), Unit: "of " + strconv.Itoa(k),
		Note: "lateness = closed_at − (submitted_at + expiry), from the projection"})
	r.add(figure{Name: "scale: lateness p50", Value: bench.Millis(bench.Percentile(lat, 50)), Unit: "ms"})
	r.add(figure{Name: "scale: lateness p99", Value: bench.Millis(bench.Percentile(lat, 99)), Unit: "ms"})
	r.add(figure{Name: "scale: lateness max", Value: bench.Millis(bench.Percentile(lat, 100)), Unit: "ms"})
	sizes := b.app.Config.WorkerSizes()
	r.add(figure{Name: "scale: worker RSS peak", Value: float64(peak.Load()) / (1 << 20), Unit: "MiB",
		Was: 684, WasNote: "the SDK's cache of 10,000", AimMax: 300,
		Note: fmt.Sprintf("%.0f MiB before the requests, %.0f MiB once all were open; sticky cache %d workflows (worker.memory_budget %s)",
			float64(baseRSS)/(1<<20), float64(rssOpen)/(1<<20), sizes.StickyCacheSize, sizes.MemoryBudget)})
	if fired != k {
		return fmt.Errorf("only %d of %d timers fired within %s of their due time", fired, k, grace)
	}
	return nil
}

// timerLateness reads the workflows' histories and returns, for each fired
// timer, how long after its due time Temporal fired it.
func (b *benchEnv) timerLateness(ctx context.Context, ids []string) ([]time.Duration, error) {
	var out []time.Duration
	for _, id := range ids {
		due := map[string]time.Time{}
		it := b.app.Temporal.GetWorkflowHistory(ctx, workflows.WorkflowID(id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return nil, err
			}
			if a := ev.GetTimerStartedEventAttributes(); a != nil {
				due[a.TimerId] = ev.EventTime.AsTime().Add(a.StartToFireTimeout.AsDuration())
			}
			if a := ev.GetTimerFiredEventAttributes(); a != nil {
				if d, ok := due[a.TimerId]; ok {
					out = append(out, ev.EventTime.AsTime().Sub(d))
				}
			}
		}
	}
	return out, nil
}

// digest runs one daily digest over M pending alerts spread over 100 staff
// users, against reading them all with bare SQL.
func (b *benchEnv) digest(ctx context.Context, r *results) error {
	m := b.o.alerts
	const users = 100
	b.logf("adding %d staff users and %d pending alerts", users, m)
	if _, err := b.app.DB.ExecContext(ctx, `UPDATE alerts SET sent_at = now() WHERE sent_at IS NULL`); err != nil {
		return err
	}
	const qUsers = `INSERT INTO users (id, email, name, role, password_hash)
		SELECT gen_random_uuid(), 'digest-' || g || '@bench.example', 'Digest ' || g, 'manager', 'x'
		FROM generate_series(1, $1) g`
	if _, err := b.app.DB.ExecContext(ctx, qUsers, users); err != nil {
		return err
	}
	const qAlerts = `INSERT INTO alerts (dedupe_key, recipient_id, request_id, kind, detail)
		SELECT 'bench-' || g, u.ids[1 + g % array_length(u.ids, 1)], NULL, 'overdue',
			jsonb_build_object('deadline', now())
		FROM generate_series(1, $1) g,
			(SELECT array_agg(id) AS ids FROM users WHERE email LIKE 'digest-%') u`
	if _, err := b.app.DB.ExecContext(ctx, qAlerts, m); err != nil {
		return err
	}
	t0 := time.Now()
	var rows int
	if err := b.app.DB.GetContext(ctx, &rows, `SELECT count(*) FROM (SELECT id, recipient_id, request_id, kind, detail FROM alerts WHERE sent_at IS NULL ORDER BY recipient_id, id) a`); err != nil {
		return err
	}
	bare := time.Since(t0)
	b.logf("running the digest")
	t0 = time.Now()
	wf, err := b.app.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "bench-digest-" + uuid.NewString(), TaskQueue: b.queue},
		workflows.DigestWorkflowName)
	if err != nil {
		return err
	}
	var sent int
	if err := wf.Get(ctx, &sent); err != nil {
		return err
	}
	took := time.Since(t0)
	var pending int
	if err := b.app.DB.GetContext(ctx, &pending, `SELECT count(*) FROM alerts WHERE sent_at IS NULL`); err != nil {
		return err
	}
	r.add(figure{Name: "digest: one run over pending alerts", Value: took.Seconds(), Unit: "s",
		Note: fmt.Sprintf("%d alerts to %d users, %d mails, %d left pending; reading them all with bare SQL takes %s", m, users, sent, pending, bare.Round(time.Millisecond))})
	r.add(figure{Name: "digest: alerts per second", Value: float64(m) / took.Seconds(), Unit: "alerts/s"})
	if pending != 0 {
		return fmt.Errorf("%d alerts still pending after the digest", pending)
	}
	return nil
}

// cpuTimes is CPU seconds by process: the bench itself and the temporal,
// dsar and postgres processes (all of each name summed), read from /proc.
type cpuTimes map[string]float64

func readCPU() cpuTimes {
	out := cpuTimes{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime stime: fields 14 and 15.
		str := string(stat)
		open, end := strings.IndexByte(str, '('), strings.LastIndexByte(str, ')')
		if open < 0 || end < open {
			continue
		}
		name := str[open+1 : end]
		if pid == os.Getpid() {
			name = "bench"
		} else if name != "temporal" && name != "dsar" && name != "postgres" {
			continue
		}
		f := strings.Fields(str[end+1:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		out[name] += (ut + st) / 100 // clock ticks (USER_HZ is 100 on Linux)
	}
	return out
}

// add adds the CPU used between before and after.
func (c cpuTimes) add(after, before cpuTimes) {
	for k, v := range after {
		c[k] += v - before[k]
	}
}

// total is the CPU seconds of all processes.
func (c cpuTimes) total() float64 {
	var t float64
	for _, v := range c {
		t += v
	}
	return t
}

// per is the CPU milliseconds per item, by process, as text.
func (c cpuTimes) per(n int) string {
	var parts []string
	for _, k := range []string{"temporal", "dsar", "postgres", "bench"} {
		if v := c[k]; v > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, v*1000/float64(n)))
		}
	}
	return strings.Join(parts, ", ")
}
