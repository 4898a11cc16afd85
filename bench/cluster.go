// Package bench runs the service as `make run` does, as separate processes
// on loopback (the Temporal dev server, `dsar serve`, `dsar worker`, and
// for the chaos run a Postgres cluster of its own), so the benchmark and the
// chaos commands can measure them, kill them and start them again. It also
// seeds large queues and solves captchas as a client would.
package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/lib/pq" // the postgres driver
)

// Proc is one process of the cluster: how to start it, and the running one.
type Proc struct {
	Name string
	// Command builds the command to (re)start the process.
	Command func() *exec.Cmd
	// Ready reports whether the started process serves.
	Ready func(ctx context.Context) bool
	Log   string // file the process's output goes to

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	Restarts int
}

// Start starts the process and waits until it is ready (or ctx ends).
func (p *Proc) Start(ctx context.Context) error {
	p.mu.Lock()
	cmd := p.Command()
	out, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("bench: %s log: %w", p.Name, err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		out.Close()
		return fmt.Errorf("bench: start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); out.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	for {
		if p.Ready == nil || p.Ready(ctx) {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("bench: %s exited while starting; see %s", p.Name, p.Log)
		case <-ctx.Done():
			return fmt.Errorf("bench: %s not ready: %w", p.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Pid is the running process's id, 0 if none.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill sends SIGKILL to the process (its whole process group) and waits
// for it to end.
func (p *Proc) Kill() {
	p.signal(syscall.SIGKILL)
}

// Stop asks the process to end (SIGTERM), then kills it after grace.
func (p *Proc) Stop(grace time.Duration) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return
	}
	p.signalOnly(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		p.Kill()
	}
}

func (p *Proc) signalOnly(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

func (p *Proc) signal(sig syscall.Signal) {
	p.signalOnly(sig)
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Restart kills the process and starts it again.
func (p *Proc) Restart(ctx context.Context) error {
	p.Kill()
	p.Restarts++
	return p.Start(ctx)
}

// RSS is the process's resident memory in bytes (Linux), 0 if unknown.
func (p *Proc) RSS() int64 {
	pid := p.Pid()
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// FreePort returns a free TCP port on loopback.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// dialable reports whether addr accepts TCP connections.
func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// httpOK reports whether GET url answers 200.
func httpOK(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// Root is the repository's root (where go.mod is), from the working
// directory upwards.
func Root() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/opendsar/dsar\n") {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// Build builds bin/dsar and makes sure bin/temporal exists.
func Build(ctx context.Context) error {
	root := Root()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", "bin/dsar", "./cmd/dsar")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bench: build dsar: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "temporal")); err != nil {
		cmd := exec.CommandContext(ctx, "go", "build", "-modfile=tools/go.mod", "-o", "bin/temporal", "github.com/temporalio/cli/cmd/temporal")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("bench: build temporal: %v\n%s", err, out)
		}
	}
	return nil
}

// Temporal is the Temporal dev server on 127.0.0.1:port, with the Dsar*
// search attributes; dbFile keeps its state across restarts ("" for
// memory only).
func Temporal(dir string, port int, dbFile string) *Proc {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return &Proc{
		Name: "temporal",
		Log:  filepath.Join(dir, "temporal.log"),
		Command: func() *exec.Cmd {
			args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(port), "--headless",
				"--log-level", "error", "--dynamic-config-value", "frontend.enableServerVersionCheck=false",
				"--search-attribute", "DsarStatus=Keyword", "--search-attribute", "DsarRequestType=Keyword",
				"--search-attribute", "DsarCountry=Keyword", "--search-attribute", "DsarDeadline=Datetime",
				"--search-attribute", "DsarOverdue=Bool",
				"--search-attribute", "DsarAttention=Bool", "--search-attribute", "DsarHandler=Keyword"}
			if dbFile != "" {
				args = append(args, "--db-filename", dbFile)
			}
			return exec.Command(filepath.Join(Root(), "bin", "temporal"), args...)
		},
		Ready: func(ctx context.Context) bool {
			if !dialable(addr) {
				return false
			}
			cmd := exec.CommandContext(ctx, filepath.Join(Root(), "bin", "temporal"), "operator", "namespace", "describe",
				"--address", addr, "-n", "default")
			return cmd.Run() == nil
		},
	}
}

// Service is `dsar serve` or `dsar worker` (what) with env (DSAR_*
// settings) on top of the process's own environment.
func Service(dir, what string, env []string, httpAddr string) *Proc {
	p := &Proc{
		Name: what,
		Log:  filepath.Join(dir, what+".log"),
		Command: func() *exec.Cmd {
			cmd := exec.Command(filepath.Join(Root(), "bin", "dsar"), what)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), env...)
			return cmd
		},
	}
	if httpAddr != "" {
		p.Ready = func(ctx context.Context) bool { return httpOK(ctx, "http://"+httpAddr+"/readyz") }
	} else {
		p.Ready = func(context.Context) bool { return true }
	}
	return p
}

// Postgres is a private Postgres cluster in dir/postgres on 127.0.0.1:port,
// initialised on first use; it runs as the postgres user when this process
// is root (initdb refuses root). URL is its superuser URL.
type Postgres struct {
	*Proc
	URL string
}

// NewPostgres prepares (initdb) a private cluster.
func NewPostgres(ctx context.Context, dir string, port int) (*Postgres, error) {
	bindir, err := pgBindir()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "postgres")
	var cred *syscall.Credential
	if os.Getuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("bench: running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.MkdirAll(data, 0o700); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		if err := os.Chown(data, uid, gid); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		cmd := exec.CommandContext(ctx, filepath.Join(bindir, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("bench: initdb: %v\n%s", err, out)
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	pg := &Postgres{URL: fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", addr)}
	pg.Proc = &Proc{
		Name: "postgres",
		Log:  filepath.Join(dir, "postgres.log"),
		Command: func() *exec.Cmd {
			cmd := exec.Command(filepath.Join(bindir, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", data,
				"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "fsync=on")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
			return cmd
		},
		Ready: func(ctx context.Context) bool {
			if !dialable(addr) {
				return false
			}
			db, err := sql.Open("postgres", pg.URL)
			if err != nil {
				return false
			}
			defer db.Close()
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return db.PingContext(ctx) == nil
		},
	}
	return pg, nil
}

func pgBindir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", errors.New("bench: no Postgres binaries (initdb) found; install postgresql")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}
