package influxd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ocsflux/ocsflux/internal/proc"
)

// Options says how to start the server. The zero value is usable.
type Options struct {
	// Binary is the influxd executable; default: "influxd" looked up on PATH.
	Binary string
	// Dir holds data, meta, WAL and the config; default: a new temporary
	// directory that Stop removes. A Dir given here is kept.
	Dir string
	// Auth enables HTTP authentication. The first user must then be
	// created as an admin through /query (InfluxDB allows that without
	// credentials while no user exists).
	Auth bool
	// StartTimeout bounds the wait for /ping; default 30 s.
	StartTimeout time.Duration
}

// ErrNotInstalled is returned when the influxd binary cannot be found.
var ErrNotInstalled = errors.New("influxd not found on PATH: install the Debian package " +
	"'influxdb' (as root: apt-get install -y influxdb; `make test` does this)")

// Server is one running influxd process.
type Server struct {
	// URL is the HTTP base URL, http://127.0.0.1:<port>.
	URL string

	opts    Options
	dir     string
	tempDir bool
	port    int
	rpcPort int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	output *proc.Output
}

// Start launches influxd and waits until it answers /ping. The caller must
// call Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Binary == "" {
		opts.Binary = "influxd"
	}
	bin, err := exec.LookPath(opts.Binary)
	if err != nil {
		return nil, ErrNotInstalled
	}
	opts.Binary = bin
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	s := &Server{opts: opts, dir: opts.Dir}
	if s.dir == "" {
		d, err := os.MkdirTemp("", "ocsflux-influxd-")
		if err != nil {
			return nil, fmt.Errorf("influxd temp dir: %w", err)
		}
		s.dir, s.tempDir = d, true
	}
	// A port picked by listening on :0 can be taken by someone else before
	// influxd binds it; try a few times.
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = proc.FreePort(); err != nil {
			break
		}
		if s.rpcPort, err = proc.FreePort(); err != nil {
			break
		}
		s.URL = "http://127.0.0.1:" + strconv.Itoa(s.port)
		if err = s.launch(ctx); err == nil {
			return s, nil
		}
	}
	s.cleanup()
	return nil, err
}

// Restart stops the process and starts it again on the same port with the
// same data, as an operator restarting InfluxDB would.
func (s *Server) Restart(ctx context.Context) error {
	s.kill()
	return s.launch(ctx)
}

// Kill stops the process (SIGTERM, then SIGKILL after 10 s) but keeps its
// data, so that Resume can bring it back on the same port.
func (s *Server) Kill() { s.kill() }

// Resume starts the process again after Kill on the same port and data.
func (s *Server) Resume(ctx context.Context) error { return s.launch(ctx) }

// Stop stops the process and removes the temporary directory.
func (s *Server) Stop() {
	s.kill()
	s.cleanup()
}

// Output returns what influxd wrote to stdout and stderr so far (for test
// failure messages).
func (s *Server) Output() string { return s.output.String() }

func (s *Server) cleanup() {
	if s.tempDir {
		_ = os.RemoveAll(s.dir)
	}
}

func (s *Server) launch(ctx context.Context) error {
	conf := filepath.Join(s.dir, "influxdb.conf")
	if err := os.WriteFile(conf, []byte(s.config()), 0o600); err != nil {
		return fmt.Errorf("influxd config: %w", err)
	}
	out := &proc.Output{}
	cmd := exec.Command(s.opts.Binary, "-config", conf)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "INFLUXDB_REPORTING_DISABLED=true")
	// Own process group, so a Ctrl-C meant for the parent is not also
	// delivered to influxd before the parent can stop it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start influxd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited, s.output = cmd, exited, out
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if Ping(ctx, s.URL, time.Second) == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("influxd exited during start-up: %s", proc.Tail(out.String(), 2000))
		case <-ctx.Done():
			s.kill()
			return fmt.Errorf("influxd did not answer %s/ping within %s: %s",
				s.URL, s.opts.StartTimeout, proc.Tail(out.String(), 2000))
		case <-tick.C:
		}
	}
}

func (s *Server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func (s *Server) config() string {
	return fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"

[meta]
  dir = %q
  logging-enabled = false

[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
  wal-fsync-delay = "0s"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  auth-enabled = %t
  log-enabled = false
  pprof-enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[logging]
  level = "warn"
`, s.rpcPort, filepath.Join(s.dir, "meta"), filepath.Join(s.dir, "data"),
		filepath.Join(s.dir, "wal"), s.port, s.opts.Auth)
}

// Ping asks the InfluxDB at base (a URL, with or without a trailing
// slash) whether it answers within timeout: GET /ping must reply 2xx.
func Ping(ctx context.Context, base string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/ping", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("ping: HTTP %d", resp.StatusCode)
	}
	return nil
}
