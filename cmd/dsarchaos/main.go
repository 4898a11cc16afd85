// Command dsarchaos runs request scenarios on a scaled-out deployment while
// it kills (SIGKILL) its processes at random moments and starts them again,
// and while it keeps Postgres away for minutes and the mail provider failing
// for minutes. Everything runs on loopback and is started by the command
// itself: a private Postgres cluster, the Temporal dev server (state in a
// file, so it survives its restarts), two `dsar serve` on their own ports,
// two `dsar worker`, and a Resend-speaking mail server in this process.
//
// The run, in order: kill scenarios (the whole path, -runs of them,
// -parallel at a time) from the start; close scenarios brought to their last
// step, then closed all at once, and Postgres killed and kept away for
// -outage while those closes are under way; deadline scenarios submitted so
// that their deadline warning, their deadline and an overdue reminder fall
// inside that outage, and closed once Postgres is back; then the mail
// provider fails for -mail-outage while mail scenarios are submitted and the
// deadline scenarios close. Kills go on throughout.
//
// At the end every request must be in its expected state, every closed
// request erased (in Postgres and in the API), every projection equal to its
// workflow's state, every workflow of a closed request Completed and none
// running, no audit event written twice and the chain whole, and no mail
// delivered twice. It prints each violation with its request and its
// figures, and exits 1 if there was any.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the postgres driver

	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/bench"
	"github.com/opendsar/dsar/mail/resendtest"
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

// options are the run's flags.
type options struct {
	runs, parallel              int
	closes, deadlines, mailRuns int
	every                       time.Duration
	outage, mailOutage          time.Duration
	alerts                      string
	limit                       time.Duration
	keep                        bool
	seed                        uint64
}

// chaos is one run: the processes, the client side and the tallies.
type chaos struct {
	opt     options
	dir     string
	pg      *bench.Postgres
	members []*member // Postgres, Temporal, then the workers and APIs
	pgm     *member   // Postgres's
	mail    *resendtest.Server
	app     *app.App
	db      *sqlx.DB // the checks' own connection
	bases   []string // the two APIs
	http    *http.Client
	queue   string
	owner   string // staff session
	source  string // data source id
	pw      string

	rmu sync.Mutex
	rng *rand.Rand

	kills     sync.Map // process name → *atomic.Int64
	retries   atomic.Int64
	restartF  atomic.Int64
	stuckKeys atomic.Int64 // idempotency keys left "being processed" by a killed API
	amu       sync.Mutex
	answers   map[string]int // staff and requester actions: answers by kind

	// The outages, as they happened.
	outageFrom, outageTo time.Time
	closesInFlight       int // closes not yet answered when Postgres went away
	mailFrom, mailTo     time.Time
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func run(ctx context.Context, args []string) (bool, error) {
	fs := flag.NewFlagSet("dsarchaos", flag.ContinueOnError)
	var o options
	fs.IntVar(&o.runs, "runs", 12, "kill scenarios: the whole path while processes are killed")
	fs.IntVar(&o.parallel, "parallel", 2, "kill scenarios at a time")
	fs.IntVar(&o.closes, "closes", 6, "close scenarios: closed as Postgres goes away (every third rejected)")
	fs.IntVar(&o.deadlines, "deadlines", 4, "deadline scenarios: their deadline passes while Postgres is away")
	fs.IntVar(&o.mailRuns, "mail-runs", 2, "mail scenarios: submitted while the mail provider fails")
	fs.DurationVar(&o.every, "every", 500*time.Millisecond, "mean pause between a process's restart and the next kill")
	fs.DurationVar(&o.outage, "outage", 3*time.Minute, "how long Postgres stays away (at least 30s)")
	fs.DurationVar(&o.mailOutage, "mail-outage", 2*time.Minute, "how long the mail provider fails (503), from Postgres's return")
	fs.StringVar(&o.alerts, "alerts", "digest", "alerts.mode of the service: digest or immediate (alert mails sent at once)")
	fs.DurationVar(&o.limit, "timeout", 30*time.Minute, "the whole run's time bound")
	fs.BoolVar(&o.keep, "keep", false, "keep the logs and data directory")
	fs.Uint64Var(&o.seed, "seed", uint64(time.Now().UnixNano()), "random seed (printed, to replay a run's choices)")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if o.outage < 30*time.Second || o.mailOutage < 0 || o.runs < 0 || o.parallel < 1 || o.closes < 0 || o.deadlines < 0 || o.mailRuns < 0 || o.every <= 0 {
		return false, fmt.Errorf("bad flags: -outage must be at least 30s, counts not negative, -parallel and -every positive")
	}
	ctx, cancel := context.WithTimeout(ctx, o.limit)
	defer cancel()
	began := time.Now()
	c := &chaos{opt: o, http: &http.Client{Timeout: 20 * time.Second, Transport: keyed{http.DefaultTransport}},
		queue: "chaos", pw: "chaos password, long enough", rng: rand.New(rand.NewPCG(o.seed, 7)), answers: map[string]int{}}
	var err error
	if c.dir, err = os.MkdirTemp("", "dsarchaos-"); err != nil {
		return false, err
	}
	logf("seed %d; logs in %s", o.seed, c.dir)
	defer func() {
		c.stopAll()
		if o.keep {
			logf("kept %s", c.dir)
		} else {
			_ = os.RemoveAll(c.dir)
		}
	}()
	if err := c.start(ctx); err != nil {
		return false, err
	}

	chaosCtx, stopChaos := context.WithCancel(ctx)
	var procs sync.WaitGroup
	procs.Add(2)
	go func() { defer procs.Done(); c.killLoop(chaosCtx) }()
	go func() { defer procs.Done(); c.supervise(chaosCtx) }()

	all := c.scenarios(ctx)
	stopChaos()
	procs.Wait()
	logf("scenarios over; bringing every process up")
	if err := c.settle(ctx); err != nil {
		return false, err
	}
	logf("waiting for the workflows to end")
	c.waitEnded(ctx, c.opt.mailOutage+3*time.Minute)
	logf("checking")
	f, v, err := c.check(ctx, all)
	if err != nil {
		return false, err
	}
	c.report(f, v, all, time.Since(began))
	return len(v.fails) == 0, nil
}

// scenarios runs every scenario and the two outages, and returns the
// scenarios once all have ended.
func (c *chaos) scenarios(ctx context.Context) []*scenario {
	o := c.opt
	var all []*scenario
	var wg sync.WaitGroup
	n := 0
	add := func(kind string, reject bool, country string) *scenario {
		s := newScenario(n, kind, reject, country)
		n++
		all = append(all, s)
		return s
	}
	finish := func(s *scenario, err error) {
		s.err = err
		if err != nil {
			logf("%s scenario %d (%s): %v", s.kind, s.n, s.id, err)
		} else {
			logf("%s scenario %d: %s done", s.kind, s.n, s.id)
		}
	}

	// Kill scenarios, -parallel at a time.
	var kills []*scenario
	for i := range o.runs {
		kills = append(kills, add(kindKill, i%4 == 3, "DE"))
	}
	var next atomic.Int64
	for range o.parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(kills); i = int(next.Add(1) - 1) {
				finish(kills[i], c.play(ctx, kills[i]))
			}
		}()
	}

	// Close scenarios: to their last step, then wait for the go.
	closeGo, afterOutage := make(chan struct{}), make(chan struct{})
	var outageOver sync.Once
	endOutage := func() { outageOver.Do(func() { close(afterOutage) }) }
	var ready sync.WaitGroup
	var closers []*scenario
	for i := range o.closes {
		s := add(kindClose, i%3 == 2, "DE")
		closers = append(closers, s)
		ready.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			finish(s, c.staged(ctx, s, len(c.steps(s))-1, ready.Done, closeGo))
		}()
	}

	// The plan: deadline scenarios once the closes are ready, then the
	// Postgres outage timed on their deadlines, then the mail outage.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer endOutage()
		ready.Wait()
		logf("%d close scenario(s) at their last step", len(closers))
		var inProgress sync.WaitGroup
		var dls []*scenario
		for range o.deadlines {
			s := add(kindDeadline, false, "JP")
			dls = append(dls, s)
			inProgress.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				finish(s, c.staged(ctx, s, 2, inProgress.Done, afterOutage)) // identity, assignment: in progress
			}()
		}
		inProgress.Wait()
		for _, s := range dls {
			if s.id != "" {
				s.deadline = c.deadlineOf(ctx, s.id)
			}
		}
		// Postgres goes away a little before the first deadline warning.
		var at time.Time
		for _, s := range dls {
			if s.deadline.IsZero() {
				continue
			}
			if warn := s.deadline.Add(-c.warnBefore() - c.opt.outage/9); at.IsZero() || warn.Before(at) {
				at = warn
			}
		}
		if at.IsZero() {
			at = time.Now()
		}
		logf("postgres goes away at %s, in %s", at.Format(time.TimeOnly), time.Until(at).Round(time.Second))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(at)):
		}
		// Postgres goes away as the first close is answered (or after 3 s):
		// that close's mail and erasure, and the other closes, are under
		// way.
		close(closeGo)
		for t0 := time.Now(); time.Since(t0) < 3*time.Second; time.Sleep(10 * time.Millisecond) {
			if slices.ContainsFunc(closers, func(s *scenario) bool { return s.closed.Load() }) {
				break
			}
		}
		for _, s := range closers {
			if s.prepared.Load() && !s.closed.Load() {
				c.closesInFlight++
			}
		}
		c.postgresOutage(ctx, c.opt.outage)

		c.mail.StartOutage(http.StatusServiceUnavailable)
		c.mailFrom = time.Now()
		logf("the mail provider fails for %s", c.opt.mailOutage)
		for i := range o.mailRuns {
			s := add(kindMail, i%2 == 1, "DE")
			wg.Add(1)
			go func() { defer wg.Done(); finish(s, c.play(ctx, s)) }()
		}
		endOutage()
		select {
		case <-ctx.Done():
		case <-time.After(c.opt.mailOutage):
		}
		c.mail.EndOutage()
		c.mailTo = time.Now()
		logf("the mail provider is back")
	}()
	wg.Wait()
	return all
}

// report prints the run's figures and its verdict.
func (c *chaos) report(f findings, v verdict, all []*scenario, took time.Duration) {
	kinds := map[string]int{}
	rejected := 0
	for _, s := range all {
		kinds[s.kind]++
		if s.reject {
			rejected++
		}
	}
	o := c.opt
	fmt.Printf("\nchaos run (seed %d, %s)\n", o.seed, took.Round(time.Second))
	fmt.Printf("  deployment            2 APIs, 2 workers, Temporal, Postgres; alerts %s\n", o.alerts)
	fmt.Printf("  scenarios             %d: %d kill, %d close, %d deadline, %d mail (%d end rejected)\n",
		len(all), kinds[kindKill], kinds[kindClose], kinds[kindDeadline], kinds[kindMail], rejected)
	fmt.Printf("  in expected state     %d\n", f.inState)
	if !c.outageFrom.IsZero() {
		fmt.Printf("  postgres outage       %s (%d of %d closes unanswered as it began)\n", c.outageTo.Sub(c.outageFrom).Round(time.Second),
			c.closesInFlight, kinds[kindClose])
	}
	fmt.Printf("  deadlines passed      %d while open, %d inside the outage (warning %s before, reminders every %s)\n",
		f.deadlines, f.deadlinesInOutage, c.warnBefore().Round(time.Second), c.warnBefore().Round(time.Second))
	if !c.mailFrom.IsZero() {
		fmt.Printf("  mail outage           %s, %d sends refused\n", c.mailTo.Sub(c.mailFrom).Round(time.Second), c.mail.Failed())
	}
	var names []string
	for _, m := range c.members {
		names = append(names, fmt.Sprintf("%s %d", m.p.Name, c.killed(m.p.Name)))
	}
	fmt.Printf("  kills                 %s\n", strings.Join(names, ", "))
	fmt.Printf("  failed starts         %d (tried again)\n", c.restartF.Load())
	fmt.Printf("  client retries        %d\n", c.retries.Load())
	fmt.Printf("  action answers        %s\n", c.answerTally())
	if f.actions != "" {
		fmt.Printf("  recorded outcomes     %s\n", f.actions)
	}
	fmt.Printf("  stuck idem. keys      %d (the submission was made again with a new key and captcha)\n", c.stuckKeys.Load())
	fmt.Printf("  requests              %d, %d closed, %d erased\n", f.requests, f.closed, f.erased)
	fmt.Printf("  projection = workflow %d of %d\n", f.projectionsEqual, f.requests)
	fmt.Printf("  workflows             %d of %d closed Completed, %d running\n", f.workflowsCompleted, f.closed, f.running)
	fmt.Printf("  audit                 %d events (%d keyed), chain %s, %d written twice\n", f.auditRows, f.auditKeyed, f.auditChain, f.auditTwice)
	fmt.Printf("  emails delivered      %d (%d idempotency keys; %d sent more than once by the service, delivered once)\n", f.mails, f.mailKeys, f.resent)
	fmt.Printf("  emails twice          %d to a requester, %d keys sent again with another payload\n", f.mailTwice, f.reused)
	if len(v.fails) == 0 {
		fmt.Println("OK")
	} else {
		fmt.Printf("FAILED: %d violation(s)\n", len(v.fails))
	}
}

// randN is a random int in [0, n), from the run's seed.
func (c *chaos) randN(n int) int {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.rng.IntN(n)
}

// base is one of the two APIs, at random: a load balancer's choice.
func (c *chaos) base() string { return c.bases[c.randN(len(c.bases))] }

// answered tallies the answer to an action.
func (c *chaos) answered(status int, err error) {
	kind := strconv.Itoa(status)
	switch {
	case err != nil || status == 0:
		kind = "no answer"
	case status >= 500:
		kind = "5xx"
	}
	c.amu.Lock()
	defer c.amu.Unlock()
	c.answers[kind]++
}

func (c *chaos) answerTally() string {
	c.amu.Lock()
	defer c.amu.Unlock()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c.answers)) {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, c.answers[k]))
	}
	return strings.Join(parts, ", ")
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

func (c *chaos) login(ctx context.Context) (string, error) {
	var s struct{ Token string }
	_, err := c.retry(ctx, "login", func() (int, []byte, error) {
		return c.call(ctx, http.MethodPost, "/api/v1/sessions", "", map[string]string{"email": "owner@chaos.example", "password": c.pw}, &s)
	}, http.StatusCreated)
	return s.Token, err
}

// call makes one JSON call to either API; out gets the answer when it is
// 2xx. An Idempotency-Key in ctx (withKey) goes with it.
func (c *chaos) call(ctx context.Context, method, path, token string, body any, out any) (int, []byte, error) {
	return bench.Call(ctx, c.http, c.base(), method, path, token, body, out)
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
