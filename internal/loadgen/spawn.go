package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ocsflux/ocsflux/agents/router"
	"github.com/ocsflux/ocsflux/internal/influxd"
)

// Environment starts, for one run, everything a bench needs on this
// machine, all on 127.0.0.1: an embedded router (package agents/router, in
// this process), InfluxDB (the one at InfluxURL if it answers /ping, else
// a throwaway influxd), and an ocsflux InfluxDB publisher as a child
// process (`<Executable> agent`, with a site config written to a temporary
// directory), so that its CPU and RSS can be measured by PID.
type Environment struct {
	// Executable is the ocsflux binary to run as the publisher.
	Executable string
	// PublisherArgs are appended to the publisher's command line (after
	// the site options), e.g. --flush-interval 100ms; they override the
	// site config's arguments as on any OCS agent.
	PublisherArgs []string
	// InfluxURL is tried first; Database is where the publisher writes.
	InfluxURL, Database string
	Realm, AddressRoot  string
	// LogLevel is the publisher's LOGLEVEL (default warn).
	LogLevel string
	// Output receives the child publisher's output and the progress lines
	// (what was started where). Default: discard. Run wraps it with
	// SyncWriter; pass the same SyncWriter to anything else writing to it
	// meanwhile.
	Output io.Writer
	// Logger receives the router's log. Default: discard.
	Logger *slog.Logger
}

// Target is what Environment.Run started: where the bench must point.
type Target struct {
	RouterURL, Realm, AddressRoot string
	InfluxURL, Database           string
	PublisherPID                  int
	// RouterDrops returns the embedded router's dropped-event count.
	RouterDrops func() uint64
	Info        SpawnInfo
}

// PublisherInstance is the instance-id of the spawned publisher.
const PublisherInstance = "bench-publisher"

// publisherStopTimeout bounds the wait for the child after SIGTERM; it
// is then killed.
const publisherStopTimeout = 20 * time.Second

// Run starts the environment, calls fn with its Target, and stops
// everything again, in order: the publisher (SIGTERM, wait), the router,
// the throwaway influxd. fn's context is cancelled, with the cause, if the
// publisher exits before fn returns.
func (e Environment) Run(ctx context.Context, fn func(ctx context.Context, t Target) error) error {
	if e.Output == nil {
		e.Output = io.Discard
	}
	e.Output = SyncWriter(e.Output)
	if e.Logger == nil {
		e.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.LogLevel == "" {
		e.LogLevel = "warn"
	}
	if e.Executable == "" {
		return errors.New("spawn: no publisher executable")
	}

	influxURL, throwaway, stopInflux, err := e.influx(ctx)
	if err != nil {
		return err
	}
	defer stopInflux()

	rt, err := router.New(router.Config{Listen: "127.0.0.1:0", Realm: e.Realm, AddressRoot: e.AddressRoot,
		Logger: e.Logger.With("component", "router")})
	if err != nil {
		return fmt.Errorf("spawn router: %w", err)
	}
	stopRouter, err := rt.Start()
	if err != nil {
		return fmt.Errorf("spawn router: %w", err)
	}
	defer stopRouter()
	fmt.Fprintf(e.Output, "bench: router %s (embedded)\n", rt.WSURL())

	dir, err := os.MkdirTemp("", "ocsflux-bench-")
	if err != nil {
		return fmt.Errorf("spawn: %w", err)
	}
	defer os.RemoveAll(dir)
	siteFile := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(siteFile, []byte(e.siteConfig(rt.WSURL(), rt.CallURL(), influxURL, filepath.Join(dir, "spool"))), 0o600); err != nil {
		return fmt.Errorf("spawn: %w", err)
	}
	args := append([]string{"agent", "--site-file", siteFile, "--site-host", "bench",
		"--instance-id", PublisherInstance}, e.PublisherArgs...)
	cmd := exec.Command(e.Executable, args...)
	cmd.Env = append(os.Environ(), "LOGLEVEL="+e.LogLevel)
	cmd.Stdout, cmd.Stderr = e.Output, e.Output
	// Its own process group: a Ctrl-C meant for the bench must not stop the
	// publisher before the bench stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("spawn publisher %s: %w", e.Executable, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	fmt.Fprintf(e.Output, "bench: publisher %s pid %d (%s)\n", e.Executable, cmd.Process.Pid, strings.Join(args, " "))

	fnCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-exited:
			cancel(fmt.Errorf("the spawned publisher (pid %d) exited: %v", cmd.Process.Pid, waitErr))
		case <-fnCtx.Done():
		}
	}()
	t := Target{
		RouterURL: rt.WSURL(), Realm: rt.Realm(), AddressRoot: e.AddressRoot,
		InfluxURL: influxURL, Database: e.Database, PublisherPID: cmd.Process.Pid,
		RouterDrops: func() uint64 { return rt.Stats().DroppedEvents },
		Info: SpawnInfo{Router: rt.WSURL(), InfluxThrowaway: throwaway, PublisherPID: cmd.Process.Pid,
			PublisherArgs: append([]string{}, e.PublisherArgs...)},
	}
	fnErr := fn(fnCtx, t)
	if fnErr != nil && fnCtx.Err() != nil && ctx.Err() == nil {
		fnErr = fmt.Errorf("%w (%v)", fnErr, context.Cause(fnCtx))
	}

	stopErr := stopProcess(cmd, exited, publisherStopTimeout)
	if stopErr != nil {
		stopErr = fmt.Errorf("stop publisher pid %d: %w", cmd.Process.Pid, stopErr)
	}
	return errors.Join(fnErr, stopErr)
}

// stopProcess sends SIGTERM and waits, killing the process after timeout.
// A process that already exited is not an error here (Run reported it).
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}, timeout time.Duration) error {
	select {
	case <-exited:
		return nil
	default:
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		select {
		case <-exited:
			return nil
		default:
			return err
		}
	}
	select {
	case <-exited:
		return nil
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("did not stop within %s of SIGTERM; killed", timeout)
	}
}

// siteConfig is the publisher's site config: one host, "bench", with one
// InfluxDBAgent instance recording from the start.
func (e Environment) siteConfig(wsURL, callURL, influxURL, spoolDir string) string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	return fmt.Sprintf(`hub:
  wamp_server: %s
  wamp_http: %s
  wamp_realm: %s
  address_root: %s
hosts:
  bench:
    agent-instances:
      - agent-class: InfluxDBAgent
        instance-id: %s
        arguments:
          - ['--initial-state', 'record']
          - ['--url', %s]
          - ['--database', %s]
          - ['--spool-dir', %s]
`, q(wsURL), q(callURL), q(e.Realm), q(e.AddressRoot), PublisherInstance, q(influxURL), q(e.Database), q(spoolDir))
}

// influx returns the InfluxDB URL to use and whether it is a throwaway
// influxd started here.
func (e Environment) influx(ctx context.Context) (string, bool, func(), error) {
	if err := influxd.Ping(ctx, e.InfluxURL, 2*time.Second); err == nil {
		fmt.Fprintf(e.Output, "bench: InfluxDB %s (already running)\n", e.InfluxURL)
		return e.InfluxURL, false, func() {}, nil
	}
	srv, err := influxd.Start(context.WithoutCancel(ctx), influxd.Options{})
	if err != nil {
		return "", false, nil, fmt.Errorf("nothing answers at %s and a throwaway influxd could not be started: %w", e.InfluxURL, err)
	}
	fmt.Fprintf(e.Output, "bench: nothing answers at %s; throwaway influxd %s (removed at the end)\n", e.InfluxURL, srv.URL)
	return srv.URL, true, srv.Stop, nil
}

// SyncWriter returns w made safe for concurrent writers (the child's
// output copier, loggers, progress lines): every Write holds one lock.
func SyncWriter(w io.Writer) io.Writer {
	if s, ok := w.(*syncWriter); ok {
		return s
	}
	return &syncWriter{w: w}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
