package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/bench"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/mail/resendtest"
)

// member is one process of the deployment. Its mutex serialises what the
// kill loop, the supervisor and the outages do to it; held marks a process
// the harness keeps down (a long outage), which nobody starts again.
type member struct {
	p    *bench.Proc
	mu   sync.Mutex
	held bool
}

// alive reports whether the process runs (it may still be starting).
func (m *member) alive() bool {
	pid := m.p.Pid()
	return pid != 0 && syscall.Kill(pid, 0) == nil
}

// revive starts the process again unless it runs or is held; a process
// that does not become ready within d stays as it is (a `dsar serve` that
// waits for Postgres) and is looked at again on the supervisor's next turn.
func (c *chaos) revive(ctx context.Context, m *member, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held || m.alive() || ctx.Err() != nil {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := m.p.Start(sctx); err != nil && ctx.Err() == nil {
		c.restartF.Add(1)
		logf("start %s: %v (the supervisor tries again)", m.p.Name, err)
	}
}

// start brings the deployment up: a private Postgres, the Temporal dev
// server, two `dsar serve` on their own ports and two `dsar worker`, all on
// loopback; then the staff side: an org owner who owns one data source.
func (c *chaos) start(ctx context.Context) error {
	logf("building")
	if err := bench.Build(ctx); err != nil {
		return err
	}
	pgPort, _ := bench.FreePort()
	tPort, _ := bench.FreePort()
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
	c.pgm = &member{p: c.pg.Proc}
	c.members = append(c.members, c.pgm)
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
	temporal := bench.Temporal(c.dir, tPort, c.dir+"/temporal.db")
	if err := temporal.Start(sctx); err != nil {
		return err
	}
	c.members = append(c.members, &member{p: temporal})
	c.mail = resendtest.NewServer("re_chaos")
	o := c.opt
	settings := map[string]string{
		"mode": "dev", "database.url": dbURL, "temporal.address": "127.0.0.1:" + strconv.Itoa(tPort),
		"temporal.task_queue": c.queue, "log.level": "warn",
		"email.provider": "resend", "email.resend.api_key": "re_chaos", "email.resend.base_url": c.mail.URL,
		"intake.rate_per_minute": "100000", "intake.captcha_max_number": "1000", "auth.login_per_minute": "100000",
		// Every request comes from one address: no caps on unconfirmed requests, and the captcha's work stays put.
		"intake.unverified_per_email": "100000000", "intake.unverified_per_network": "100000000", "intake.captcha_max_number_ceiling": "1000",
		"alerts.mode": o.alerts,
		// Short periods, so that the deadlines of the requests made for
		// them (country JP: no jurisdiction rule, the default deadline)
		// and every reminder fall within the run. Verification stays
		// long: no requester is reminded or expired while the chaos holds.
		"workflow.default_deadline":            c.deadlineAfter().String(),
		"workflow.deadline_warning_before":     c.warnBefore().String(),
		"workflow.overdue_alert_every":         c.warnBefore().String(),
		"workflow.reminder_every":              c.warnBefore().String(),
		"workflow.stall_after":                 c.warnBefore().String(),
		"workflow.assignment_alert_every":      c.warnBefore().String(),
		"workflow.verification_reminder_after": "1h",
		"workflow.verification_expiry":         "2h",
		// A published access package expires within the run, so a
		// completed request's workflow deletes it and ends before the
		// checks (its erasure waits for nothing else).
		"fulfilment.package_ttl": "2m",
	}
	env := []string{}
	m := map[string]any{"http.addr": "127.0.0.1:0"}
	for k, v := range settings {
		env = append(env, envName(k)+"="+v)
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
	if c.db, err = sqlx.Open("postgres", dbURL); err != nil {
		return err
	}
	var procs []*bench.Proc
	for i := 1; i <= 2; i++ {
		port, _ := bench.FreePort()
		addr := "127.0.0.1:" + strconv.Itoa(port)
		base := "http://" + addr
		c.bases = append(c.bases, base)
		s := bench.Service(c.dir, "serve", append(env[:len(env):len(env)], envName("http.addr")+"="+addr, envName("public_url")+"="+base), addr)
		s.Name, s.Log = fmt.Sprintf("serve-%d", i), fmt.Sprintf("%s/serve-%d.log", c.dir, i)
		w := bench.Service(c.dir, "worker", env, "")
		w.Name, w.Log = fmt.Sprintf("worker-%d", i), fmt.Sprintf("%s/worker-%d.log", c.dir, i)
		procs = append(procs, w, s)
	}
	for _, p := range procs {
		logf("starting %s", p.Name)
		c.members = append(c.members, &member{p: p})
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

// envName is the environment variable of a config key.
func envName(key string) string {
	return "DSAR_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// warnBefore is the deadline warning's lead and the period of every
// reminder: a third of the Postgres outage, so that a warning, a deadline
// and an overdue reminder all fall inside it.
func (c *chaos) warnBefore() time.Duration { return c.opt.outage / 3 }

// prepTime is how long after its submission a deadline request's warning
// is due, less the outage's head start: the time it has to reach
// in_progress before Postgres goes away.
const prepTime = 90 * time.Second

// deadlineAfter is the default deadline (the period of the JP requests).
func (c *chaos) deadlineAfter() time.Duration { return c.warnBefore() + prepTime }

// stopAll ends every process, Postgres last.
func (c *chaos) stopAll() {
	for _, m := range slices.Backward(c.members) {
		m.p.Stop(10 * time.Second)
	}
	if c.db != nil {
		c.db.Close()
	}
	if c.app != nil {
		c.app.Close()
	}
	if c.mail != nil {
		c.mail.Close()
	}
}

// killLoop kills (SIGKILL) a process picked at random among those running
// every 2×every at most (every on average), and starts it again after a
// pause of up to 2 s, until ctx ends.
func (c *chaos) killLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(c.randN(int(2 * c.opt.every)))):
		}
		m := c.members[c.randN(len(c.members))]
		m.mu.Lock()
		if m.held || !m.alive() {
			m.mu.Unlock()
			continue
		}
		m.p.Kill()
		m.mu.Unlock()
		c.count(m.p.Name)
		logf("killed %s", m.p.Name)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(c.randN(int(2 * time.Second)))):
		}
		c.revive(ctx, m, 30*time.Second)
	}
}

// supervise starts again, every second, each process that is not running
// and not held: a worker or an API started while Postgres was away exits,
// and a deployment's supervisor would start it again.
func (c *chaos) supervise(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		for _, m := range c.members {
			c.revive(ctx, m, 30*time.Second)
		}
	}
}

// postgresOutage stops Postgres (SIGKILL, as a crash or a failover would),
// keeps it away for d, and starts it again: it serves again a little after
// d (recovery), which is the outage the report gives.
func (c *chaos) postgresOutage(ctx context.Context, d time.Duration) {
	m := c.pgm
	m.mu.Lock()
	m.held = true
	m.p.Kill()
	m.mu.Unlock()
	c.outageFrom = time.Now()
	logf("postgres away for %s", d)
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	m.mu.Lock()
	m.held = false
	m.mu.Unlock()
	for ctx.Err() == nil && !m.alive() {
		c.revive(ctx, m, 2*time.Minute)
	}
	c.outageTo = time.Now()
	logf("postgres back after %s", c.outageTo.Sub(c.outageFrom).Round(time.Second))
}

// settle makes sure every process runs and both APIs are ready, once the
// chaos has stopped.
func (c *chaos) settle(ctx context.Context) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ready := true
		for _, m := range c.members {
			c.revive(ctx, m, time.Minute)
			ready = ready && m.alive()
		}
		for _, base := range c.bases {
			st, _, err := bench.Call(ctx, c.http, base, http.MethodGet, "/readyz", "", nil, nil)
			ready = ready && err == nil && st == http.StatusOK
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the deployment is not ready 3 minutes after the chaos")
		}
		time.Sleep(time.Second)
	}
}
