package publisher_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"go.uber.org/goleak"

	"github.com/ocsflux/ocsflux/internal/proc"
	"github.com/ocsflux/ocsflux/publisher"
)

func TestMain(m *testing.M) {
	if os.Getenv(envCrashChild) != "" {
		os.Exit(crashChild()) // TestInfluxCrashLoss's child process
	}
	code := m.Run()
	// influxtest uses http.DefaultClient; its idle connections are not
	// leaks of this package.
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// request is one request the fake InfluxDB received, body decompressed.
type request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   string
	At     time.Time
}

// reply is what the fake answers; zero Status means the default behaviour.
type reply struct {
	Status int
	Header map[string]string
	Body   string
	// Hold, if set, delays the reply until it is closed or the request
	// is cancelled.
	Hold chan struct{}
}

// fakeInflux is a real HTTP server speaking enough of InfluxDB 1.x's API:
// SHOW DATABASES, CREATE DATABASE and /write, with scripted faults.
type fakeInflux struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	reqs      []request
	databases []string
	// onWrite decides the reply to the n-th /write (from 0); nil → 204.
	onWrite func(n int, r request) reply
	// onQuery decides the reply to the n-th /query; nil → default.
	onQuery func(n int, r request) reply
	writes  int
	queries int
}

func newFake(t *testing.T, tls bool) *fakeInflux {
	f := &fakeInflux{t: t}
	h := http.HandlerFunc(f.serve)
	f.srv = httptest.NewUnstartedServer(h)
	// The TLS tests provoke handshake errors on purpose.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeInflux) serve(w http.ResponseWriter, r *http.Request) {
	var body []byte
	var err error
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, zerr := gzip.NewReader(r.Body)
		if zerr != nil {
			f.t.Errorf("gzip body: %v", zerr)
			http.Error(w, zerr.Error(), 400)
			return
		}
		body, err = io.ReadAll(zr)
	} else {
		body, err = io.ReadAll(r.Body)
	}
	if err != nil {
		f.t.Errorf("read body: %v", err)
		return
	}
	rec := request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: string(body), At: time.Now()}
	f.mu.Lock()
	f.reqs = append(f.reqs, rec)
	var rp reply
	switch r.URL.Path {
	case "/write":
		if f.onWrite != nil {
			rp = f.onWrite(f.writes, rec)
		}
		f.writes++
	case "/query":
		if f.onQuery != nil {
			rp = f.onQuery(f.queries, rec)
		}
		f.queries++
	}
	f.mu.Unlock()

	if rp.Hold != nil {
		select {
		case <-rp.Hold:
		case <-r.Context().Done():
			return
		}
	}
	if rp.Status != 0 {
		for k, v := range rp.Header {
			w.Header().Set(k, v)
		}
		if rp.Body != "" {
			w.Header().Set("X-Influxdb-Error", rp.Body)
			w.WriteHeader(rp.Status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": rp.Body})
			return
		}
		w.WriteHeader(rp.Status)
		return
	}
	switch {
	case r.URL.Path == "/write":
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/query" && r.URL.Query().Get("q") == "SHOW DATABASES":
		f.mu.Lock()
		var vals [][]string
		for _, d := range f.databases {
			vals = append(vals, []string{d})
		}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"results": []any{map[string]any{"statement_id": 0,
			"series": []any{map[string]any{"name": "databases", "columns": []string{"name"}, "values": vals}}}}})
	case r.URL.Path == "/query" && strings.HasPrefix(r.URL.Query().Get("q"), "CREATE DATABASE "):
		name := strings.Trim(strings.TrimPrefix(r.URL.Query().Get("q"), "CREATE DATABASE "), `"`)
		f.mu.Lock()
		f.databases = append(f.databases, name)
		f.mu.Unlock()
		_, _ = io.WriteString(w, `{"results":[{"statement_id":0}]}`)
	default:
		http.Error(w, "unexpected request", 400)
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
	}
}

func (f *fakeInflux) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

func (f *fakeInflux) writeRequests() []request {
	var out []request
	for _, r := range f.requests() {
		if r.Path == "/write" {
			out = append(out, r)
		}
	}
	return out
}

// writtenBody concatenates the bodies of the /write requests answered
// with success according to ok (nil: all).
func (f *fakeInflux) writtenBody() string {
	var b strings.Builder
	for _, r := range f.writeRequests() {
		b.WriteString(r.Body)
	}
	return b.String()
}

func (f *fakeInflux) script(onWrite, onQuery func(int, request) reply) {
	f.mu.Lock()
	f.onWrite, f.onQuery = onWrite, onQuery
	f.mu.Unlock()
}

// testConfig points at f with short intervals suitable for tests.
func testConfig(f *fakeInflux) publisher.Config {
	cfg := publisher.DefaultConfig()
	cfg.URL = f.srv.URL
	cfg.Credentials = publisher.Credentials{Username: "root", Password: "root"}
	cfg.FlushInterval = 20 * time.Millisecond
	cfg.ConnectRetry = 20 * time.Millisecond
	cfg.RetryMin = 10 * time.Millisecond
	cfg.RetryMax = 50 * time.Millisecond
	cfg.Timeout = 5 * time.Second
	cfg.StopTimeout = 5 * time.Second
	return cfg
}

// running is a publisher whose Run goroutine the test owns.
type running struct {
	*publisher.Publisher
	cancel context.CancelFunc
	done   chan error
	logs   *proc.Output
}

// start creates a publisher and runs it until the test ends (or stop).
func start(t *testing.T, cfg publisher.Config) *running {
	t.Helper()
	logs := &proc.Output{} // printed if the test fails
	p, err := publisher.New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Publisher: p, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { r.done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return")
		}
		if t.Failed() {
			t.Logf("publisher logs:\n%s", logs.String())
		}
	})
	return r
}

// stop cancels Run and returns its error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("Run did not return after cancel")
		return nil
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
