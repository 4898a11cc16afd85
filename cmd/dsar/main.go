// Command dsar is the DSAR service: one binary with subcommands for the
// HTTP API and pages (serve), the Temporal worker (worker), both (all),
// database migrations (migrate), user bootstrap (user create), the audit
// chain's verification (audit verify) and anchors (audit anchor), and
// master key rotation (keys rotate).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
	// The time zone database in the binary: a jurisdiction rule's zone
	// loads, and its business days are counted the same, on a machine
	// or image without one (docs/decisions.md).
	_ "time/tzdata"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/store"
)

const usage = `dsar: the self-hosted DSAR service.

Usage:
  dsar <command> [flags]

Commands:
  serve         run the HTTP API and pages
  worker        run the Temporal worker
  all           run the API and the worker in one process
  migrate       apply database migrations and exit
  user create   create a staff user (the password is read from standard input)
  audit verify  check the audit trail's keyed chain (and its anchors) and report the first break
  audit anchor  print a signed anchor of the audit trail's head (schedule it; keep the lines off the database)
  keys rotate   wrap every data key again under the current master key, so an
                old one in crypto.previous_keys can be retired
  keys connector  print the payload key for a connector's config (temporal.payload_key)
  connector     run a data source's connector worker next to its database
                (--config connector.yaml; see docs/connectors.md)

Every command takes --config FILE (YAML) and reads DSAR_* environment
variables; run "dsar <command> --help" for its flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "dsar:", describe(err))
		os.Exit(1)
	}
}

// run executes one command line. It is main without the process, for tests.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return errors.New("no command given")
		}
		return nil
	}
	switch args[0] {
	case "serve":
		return runService(ctx, "serve", "Run the HTTP API and pages.", args[1:], stderr, func(a *app.App, ctx context.Context) error {
			tuneGC(os.Getenv, serveHeadroom) // once the server is about to run, not for --help or a bad config
			return a.RunServer(ctx)
		})
	case "worker":
		return runService(ctx, "worker", "Run the Temporal worker.", args[1:], stderr, func(a *app.App, ctx context.Context) error {
			limitMemory(os.Getenv, int64(a.Config.Worker.MemoryBudget))
			return a.RunWorker(ctx)
		})
	case "all":
		return runService(ctx, "all", "Run the HTTP API and the Temporal worker in one process.", args[1:], stderr, (*app.App).RunAll)
	case "migrate":
		return runService(ctx, "migrate", "Apply the database migrations (the other commands also do on start-up) and exit.",
			args[1:], stderr, func(*app.App, context.Context) error { return nil })
	case "user":
		if len(args) < 2 || args[1] != "create" {
			fmt.Fprint(stderr, "usage: dsar user create --email E --name N --role R < password\n")
			if len(args) >= 2 && (args[1] == "--help" || args[1] == "-h") {
				return nil
			}
			return errors.New("unknown user command")
		}
		return userCreate(ctx, args[2:], stdin, stdout, stderr)
	case "audit":
		switch {
		case len(args) >= 2 && args[1] == "verify":
			return auditVerify(ctx, args[2:], stdout, stderr)
		case len(args) >= 2 && args[1] == "anchor":
			return auditAnchor(ctx, args[2:], stdout, stderr)
		}
		fmt.Fprint(stderr, "usage: dsar audit verify [--config FILE] [--anchor FILE]\n       dsar audit anchor [--config FILE] [--append FILE]\n")
		if len(args) >= 2 && (args[1] == "--help" || args[1] == "-h") {
			return nil
		}
		return errors.New("unknown audit command")
	case "keys":
		switch {
		case len(args) >= 2 && args[1] == "rotate":
			return keysRotate(ctx, args[2:], stdout, stderr)
		case len(args) >= 2 && args[1] == "connector":
			return keysConnector(args[2:], stdout, stderr)
		}
		fmt.Fprint(stderr, "usage: dsar keys rotate [--config FILE]\n       dsar keys connector [--config FILE]\n")
		if len(args) >= 2 && (args[1] == "--help" || args[1] == "-h") {
			return nil
		}
		return errors.New("unknown keys command")
	case "connector":
		return runConnector(ctx, args[1:], stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// flags returns a flag set for a command with the --config flag every
// command shares.
func flags(name, about string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("dsar "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML config `file` (default $DSAR_CONFIG, else .data/dsar.yaml if make run wrote it; DSAR_* variables override it)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nUsage: dsar %s [flags]\n\nFlags:\n", about, name)
		fs.PrintDefaults()
	}
	return fs, cfgPath
}

// devConfig is the file make run writes; commands run from the repository's
// root use it when given no other config, so they reach what make run started.
const devConfig = ".data/dsar.yaml"

func open(ctx context.Context, cfgPath string) (*app.App, error) {
	if cfgPath == "" {
		cfgPath = os.Getenv("DSAR_CONFIG")
	}
	if cfgPath == "" {
		if _, err := os.Stat(devConfig); err == nil {
			fmt.Fprintf(os.Stderr, "dsar: using %s (written by make run)\n", devConfig)
			cfgPath = devConfig
		}
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	return app.Open(ctx, cfg, nil)
}

func runService(ctx context.Context, name, about string, args []string, stderr io.Writer, fn func(*app.App, context.Context) error) error {
	fs, cfgPath := flags(name, about, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := open(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a, ctx)
}

func userCreate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("user create", "Create a staff user. The password is read from the first line of standard input.", stderr)
	email := fs.String("email", "", "the user's email (login)")
	name := fs.String("name", "", "the user's name")
	role := fs.String("role", "org_owner", "role: org_owner, admin, manager, source_owner or operator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	a, err := open(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.CreateUser(ctx, *email, *name, *role, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %s (%s, %s)\n", u.ID, u.Email, u.Role)
	return nil
}

func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("audit verify", "Check the audit trail's keyed chain from the first row to the last and, with --anchor, that it still reaches every anchored head.", stderr)
	anchorPath := fs.String("anchor", "", "a `file` of anchors written by \"dsar audit anchor\": find a cut tail or a rewritten chain")
	if err := fs.Parse(args); err != nil {
		return err
	}
	anchors, err := readAnchors(*anchorPath, false)
	if err != nil {
		return err
	}
	a, err := open(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer a.Close()
	c, err := a.DB.CheckAudit(ctx, anchors)
	if err != nil {
		return err
	}
	if c.Break != nil {
		fmt.Fprintf(stdout, "audit chain BROKEN at row %d: %s (%d rows read)\n", c.Break.Seq, c.Break.Reason, c.Rows)
		return errors.New("audit chain broken")
	}
	fmt.Fprintf(stdout, "audit chain intact: %d rows verified", c.Rows)
	if c.Unkeyed > 0 {
		fmt.Fprintf(stdout, " (rows 1-%d are from before the chain was keyed)", c.Unkeyed)
	}
	if *anchorPath != "" {
		fmt.Fprintf(stdout, "; %d anchors reached", c.Anchors)
		if c.Anchors > 0 {
			fmt.Fprintf(stdout, ", the last of row %d taken at %s", c.Latest.Seq, c.Latest.At.Format(time.RFC3339))
		}
	}
	fmt.Fprintln(stdout)
	return nil
}

func auditAnchor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("audit anchor", "Check the audit trail and print a signed anchor of its head (its row and MAC) for \"dsar audit verify --anchor\". "+
		"Run it on a schedule and keep the lines where the database's users cannot change them.", stderr)
	appendPath := fs.String("append", "", "also append the anchor to this `file`, after checking the chain against the anchors already in it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	anchors, err := readAnchors(*appendPath, true)
	if err != nil {
		return err
	}
	a, err := open(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer a.Close()
	anchor, c, err := a.DB.AnchorAudit(ctx, anchors)
	switch {
	case err != nil:
		return err
	case c.Break != nil:
		fmt.Fprintf(stdout, "audit chain BROKEN at row %d: %s (%d rows read); nothing anchored\n", c.Break.Seq, c.Break.Reason, c.Rows)
		return errors.New("audit chain broken")
	case anchor.Seq == 0:
		fmt.Fprintln(stderr, "the audit trail is empty: nothing to anchor")
		return nil
	}
	line := anchor.String() + "\n"
	fmt.Fprint(stdout, line)
	if *appendPath == "" {
		return nil
	}
	f, err := os.OpenFile(*appendPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("audit anchor: %w", err)
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("audit anchor: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("audit anchor: %w", err)
	}
	return f.Close()
}

// readAnchors reads the anchors in the file at path ("" for none); a file
// that does not exist holds none if missingOK.
func readAnchors(path string, missingOK bool) ([]store.AuditAnchor, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && missingOK {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("anchors: %w", err)
	}
	defer f.Close()
	return store.ParseAuditAnchors(f)
}

func keysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("keys rotate", "Wrap every data key (requests, messages, access packages) again under the current master key\n"+
		"(crypto.master_key), reading the old ones with crypto.previous_keys. Run it after moving the old key\n"+
		"to crypto.previous_keys and setting a new crypto.master_key and crypto.master_key_id; it can run\n"+
		"while the service runs, and again at any time.", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := open(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer a.Close()
	n, err := a.DB.RewrapDataKeys(ctx, a.Keys)
	if err != nil {
		return err
	}
	current := a.Keys.CurrentID()
	fmt.Fprintf(stdout, "wrapped %d data keys again under master key %s (%d request keys, %d message keys, %d access package keys, %d TOTP secrets, %d contact keys kept for appeals, %d webhook secrets and job tokens)\n",
		n.Total(), current, n.RequestKeys, n.MessageKeys, n.Packages, n.TOTPSecrets, n.ContactKeys, n.WebhookSecrets)
	left, err := a.DB.WrappedKeyIDs(ctx)
	if err != nil {
		return err
	}
	for id, count := range left {
		if id != current {
			return fmt.Errorf("%d data keys are still wrapped by master key %s: run keys rotate again", count, id)
		}
	}
	fmt.Fprintf(stdout, "every data key in the database is wrapped by %s.\n", current)
	for _, pk := range a.Config.Crypto.PreviousKeys {
		id, _, _ := strings.Cut(pk, ":")
		switch {
		case id == a.Config.Crypto.IndexKeyID:
			fmt.Fprintf(stdout, "keep %s: the email blind index and link tokens derive from it (crypto.index_key_id).\n", id)
		default:
			fmt.Fprintf(stdout, "%s wraps no data key now; remove it from crypto.previous_keys once no Temporal history sealed with it is\n"+
				"  needed: every workflow started before the rotation has closed and passed the namespace's retention.\n", id)
		}
	}
	return nil
}

// describe says what went wrong in words for a person at a terminal: a
// *dsar.Error by its message and the fields it names, anything else as is.
func describe(err error) string {
	var de *dsar.Error
	if !errors.As(err, &de) {
		return err.Error()
	}
	msg := de.Message
	keys := make([]string, 0, len(de.Fields))
	for k := range de.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		msg += fmt.Sprintf("\n  %s: %s", k, de.Fields[k])
	}
	return msg
}
