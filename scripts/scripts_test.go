// Package scripts_test runs the repository's shell scripts as make does.
package scripts_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/opendsar/dsar/bench"
)

// TestPrivateClusterOutlivesItsFirstUser: make test starts the private
// Postgres cluster, make run (or make bench) joins it, and make test ends
// first. The cluster keeps running for the other user, which then ends and
// stops it. Before, the user that started the cluster stopped it when it
// ended, under the other.
func TestPrivateClusterOutlivesItsFirstUser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Postgres cluster")
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) == 0 {
		t.Skip("no initdb here (the postgresql package)")
	}
	dir := t.TempDir()
	// initdb runs as the postgres user when the test runs as root: it
	// must reach the cluster's folder through the test's own folders.
	for d := dir; d != filepath.Clean(os.TempDir()) && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port, err := bench.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DSAR_DATA_DIR="+dir, "DSAR_PG_PORT="+strconv.Itoa(port),
		"DATABASE_URL=postgres://postgres@127.0.0.1:1/none?sslmode=disable") // answers nowhere
	script := func(args ...string) *exec.Cmd {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = ".."
		cmd.Env = env
		return cmd
	}
	running := func() bool { return script("scripts/postgres.sh", "running").Run() == nil }
	file := func(name string) string { return filepath.Join(dir, name) }
	waitFor := func(what string, ok func() bool, out fmt.Stringer) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting: %s\n%s", what, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	exists := func(name string) func() bool {
		return func() bool { _, err := os.Stat(file(name)); return err == nil }
	}
	// user runs with-postgres.sh with a command that says it is in (the
	// file in), waits for the file go, then queries the database.
	user := func(in, goOn string) (*exec.Cmd, *lockedBuffer) {
		cmd := script("scripts/with-postgres.sh", "sh", "-c",
			`touch "$0"; while [ ! -e "$1" ]; do sleep 0.1; done; psql "$DATABASE_URL" -qAtc "select 1"`, file(in), file(goOn))
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		return cmd, out
	}
	t.Cleanup(func() { _ = script("scripts/postgres.sh", "stop").Run() })

	first, firstOut := user("first-in", "first-go")
	waitFor("the first user starts the cluster", exists("first-in"), firstOut)
	if !running() {
		t.Fatalf("no cluster running for the first user:\n%s", firstOut)
	}
	second, secondOut := user("second-in", "second-go")
	waitFor("the second user joins", exists("second-in"), secondOut)

	// The user that started the cluster ends first.
	if err := os.WriteFile(file("first-go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first user: %v\n%s", err, firstOut)
	}
	if !running() {
		t.Fatal("the first user stopped the cluster while the second still used it")
	}
	// The second still has its database; when it ends, the cluster stops.
	if err := os.WriteFile(file("second-go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("second user: %v\n%s", err, secondOut)
	}
	if running() {
		t.Error("the last user left the cluster running")
	}
}

// lockedBuffer collects a process's output while the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
