package influxdb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
	"github.com/influxdata/influxdb1-client/models"
	"go.uber.org/goleak"

	"github.com/ocsflux/ocsflux/agents"
	ocsclient "github.com/ocsflux/ocsflux/agents/client"
	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/agents/router"
	"github.com/ocsflux/ocsflux/internal/influxtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	// influxtest queries with http.DefaultClient; its idle connections are
	// not leaks of the code under test.
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

const (
	testRoot   = "observatory"
	influxID   = "influxagent"
	influxAddr = testRoot + "." + influxID
	srcID      = "src"
	srcAddr    = testRoot + "." + srcID
)

// logBuffer collects the log of a test (and copies it to stderr when
// OCSFLUX_TEST_LOG is set).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if os.Getenv("OCSFLUX_TEST_LOG") != "" {
		_, _ = os.Stderr.Write(p)
	}
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lines returns the log lines containing every one of the substrings.
func (l *logBuffer) lines(subs ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok && line != "" {
			out = append(out, line)
		}
	}
	return out
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startRouter runs ocsflux's embedded router on a free loopback port until
// the test ends.
func startRouter(t *testing.T) *router.Router {
	t.Helper()
	r, err := router.New(router.Config{Listen: "127.0.0.1:0", Logger: newLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("router: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("router did not stop")
		}
	})
	select {
	case <-r.Ready():
	case err := <-done:
		t.Fatalf("router: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("router not ready")
	}
	return r
}

// testOptions are the agent options used by the tests: InfluxDB at url,
// database db, short flush interval and shutdown timeout.
func testOptions(url, db, initialState string) influxdb.Options {
	o := influxdb.Defaults()
	o.URL = url
	o.Database = db
	o.InitialState = initialState
	o.FlushInterval = 100 * time.Millisecond
	o.ShutdownTimeout = 2 * time.Second
	return o
}

// influxAgent is a running InfluxDBAgent with control clients.
type influxAgent struct {
	*influxdb.Agent
	logs *logBuffer
	w    *ocsclient.WAMP // .ops over WAMP
	h    *ocsclient.HTTP // .ops over the HTTP bridge, as OCSClient
	// shutdown cancels Run's context (as SIGTERM does) and returns Run's
	// result; it is also called at cleanup.
	shutdown func() error
}

// startInflux starts an InfluxDBAgent with instance id id (default
// influxagent) on r; it stops when the test ends. Credentials come from
// env (nil: no variable set, so root/root).
func startInflux(t *testing.T, r *router.Router, opts influxdb.Options, id string, env func(string) (string, bool)) *influxAgent {
	t.Helper()
	if id == "" {
		id = influxID
	}
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	logs := &logBuffer{}
	a, err := influxdb.New(influxdb.Config{
		Agent: agents.Config{
			AddressRoot:     testRoot,
			InstanceID:      id,
			URL:             r.WSURL(),
			Realm:           r.Realm(),
			Hostname:        "testhost",
			PID:             4242,
			ResponseTimeout: 3 * time.Second,
			Logger:          newLogger(logs),
		},
		Options:      opts,
		LookupEnv:    env,
		ConnectRetry: 100 * time.Millisecond,
		RetryMin:     100 * time.Millisecond,
		RetryMax:     300 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("influxdb.New: %v", err)
	}
	ia := &influxAgent{Agent: a, logs: logs}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var runErr error
	ia.shutdown = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(15 * time.Second):
				runErr = fmt.Errorf("Run did not return")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := ia.shutdown(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	ia.w, err = ocsclient.DialWAMP(dctx, ocsclient.WAMPConfig{URL: r.WSURL(), Realm: r.Realm(), Address: a.Address()})
	if err != nil {
		t.Fatalf("DialWAMP: %v", err)
	}
	t.Cleanup(func() { _ = ia.w.Close() })
	ia.h = &ocsclient.HTTP{URL: r.CallURL(), Address: a.Address(), Client: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(ia.h.Client.CloseIdleConnections)
	waitFor(t, 10*time.Second, a.Address()+" registered", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := ia.w.GetAPI(ctx)
		return err == nil
	})
	return ia
}

// ops calls .ops over WAMP; timeout is wait's (nil: none).
func (ia *influxAgent) ops(t *testing.T, action string, params map[string]any, timeout *float64) ocsclient.Reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rep, err := ia.w.Ops(ctx, action, influxdb.OpRecord, params, timeout)
	if err != nil {
		t.Fatalf(".ops %s record %v: %v", action, params, err)
	}
	return rep
}

// waitSession polls record's status until cond holds.
func (ia *influxAgent) waitSession(t *testing.T, what string, d time.Duration, cond func(s map[string]any) bool) map[string]any {
	t.Helper()
	var sess map[string]any
	waitFor(t, d, "record: "+what, func() bool {
		sess = ia.ops(t, ocsclient.ActionStatus, nil, nil).Session
		return len(sess) > 0 && cond(sess)
	})
	return sess
}

// waitRecording waits until record runs connected (its session data has
// connected true).
func (ia *influxAgent) waitRecording(t *testing.T) map[string]any {
	t.Helper()
	return ia.waitSession(t, "recording and connected", 10*time.Second, func(s map[string]any) bool {
		d, _ := s["data"].(map[string]any)
		return s["status"] == "running" && d["connected"] == true
	})
}

// source is a Go agent publishing feeds: temps (recorded), excluded
// (recorded, agg_params exclude_influx) and notrec (not recorded). Its
// heartbeat is off, so every event the InfluxDBAgent receives from it is one
// the test published.
type source struct {
	a                      *agents.Agent
	temps, excluded, other *agents.Feed
}

func startSource(t *testing.T, r *router.Router) *source {
	t.Helper()
	a, fs := startGoAgent(t, r, srcID, "SourceAgent",
		agents.FeedSpec{Name: "temps", Record: true},
		agents.FeedSpec{Name: "excluded", Record: true, AggParams: map[string]any{"exclude_influx": true}},
		agents.FeedSpec{Name: "notrec"})
	return &source{a: a, temps: fs["temps"], excluded: fs["excluded"], other: fs["notrec"]}
}

// startGoAgent starts a Go agent <testRoot>.<id> of class class with the
// feeds of specs (by name in the map it returns) and its heartbeat off; it
// returns once the agent is registered and stops when the test ends.
func startGoAgent(t *testing.T, r *router.Router, id, class string, specs ...agents.FeedSpec) (*agents.Agent, map[string]*agents.Feed) {
	t.Helper()
	a, err := agents.New(agents.Config{
		AddressRoot: testRoot, InstanceID: id, AgentClass: class,
		URL: r.WSURL(), Realm: r.Realm(), ResponseTimeout: 3 * time.Second, Logger: newLogger(io.Discard),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.SetHeartbeat(false)
	fs := map[string]*agents.Feed{}
	for _, spec := range specs {
		f, err := a.RegisterFeed(spec)
		if err != nil {
			t.Fatal(err)
		}
		fs[spec.Name] = f
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s Run: %v", id, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s Run did not return", id)
		}
	})
	c := &ocsclient.HTTP{URL: r.CallURL(), Address: a.Address(), Client: &http.Client{Timeout: 5 * time.Second}}
	t.Cleanup(c.Client.CloseIdleConnections)
	waitFor(t, 10*time.Second, id+" registered", func() bool {
		_, err := c.GetAPI(t.Context())
		return err == nil
	})
	return a, fs
}

// loadFeed is the recorded feed of a loadAgent.
const loadFeed = "load"

// loadT0 is the time of seq 0 of a loadAgent; seq n is at loadT0 + n*loadDT.
const (
	loadT0 = 1795294463.0
	loadDT = 1e-4
)

// loadAgent is a Go agent publishing, on its recorded feed "load", points
// with fields seq (integer, 0, 1, 2, ...) and x (float, seq/2), at a
// steady rate.
type loadAgent struct {
	addr string
	feed *agents.Feed
}

// published is what a loadAgent published: n points, seq 0..n-1.
type published struct{ n int64 }

func (p published) seqSum() int64 { return p.n * (p.n - 1) / 2 }

func startLoadAgent(t *testing.T, r *router.Router, id string) *loadAgent {
	t.Helper()
	a, fs := startGoAgent(t, r, id, "LoadAgent", agents.FeedSpec{Name: loadFeed, Record: true})
	return &loadAgent{addr: a.Address(), feed: fs[loadFeed]}
}

// run publishes rate points per second for d, in a block every 10 ms, seq
// from 0, and stores in progress how many points it has published so far.
// It returns what it published; a failed publish ends it.
func (l *loadAgent) run(rate float64, d time.Duration, progress *atomic.Int64) (published, error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var n int64
	for {
		el := time.Since(start)
		if el > d {
			el = d
		}
		due := int64(rate * el.Seconds())
		if due > n {
			ts := make([]float64, 0, due-n)
			seq := make([]any, 0, due-n)
			x := make([]any, 0, due-n)
			for i := n; i < due; i++ {
				ts = append(ts, loadT0+float64(i)*loadDT)
				seq = append(seq, i)
				x = append(x, float64(i)/2)
			}
			if err := l.feed.PublishBlock("b", ts, map[string]any{"seq": seq, "x": x}); err != nil {
				return published{n}, fmt.Errorf("%s: publish seq %d..%d: %w", l.addr, n, due-1, err)
			}
			n = due
			progress.Store(n)
		}
		if el >= d {
			return published{n}, nil
		}
		<-tick.C
	}
}

// loadRun is load agents publishing at the same time, together rate points
// per second for total (loadAgent.run).
type loadRun struct {
	total    time.Duration
	results  []published
	errs     []error
	progress []atomic.Int64 // points published so far, by agent
	done     chan struct{}  // closed when every agent has returned
}

// startLoadRun starts loads publishing; the test's cleanup waits until
// they have returned.
func startLoadRun(t *testing.T, loads []*loadAgent, rate float64, total time.Duration) *loadRun {
	t.Helper()
	lr := &loadRun{
		total:    total,
		results:  make([]published, len(loads)),
		errs:     make([]error, len(loads)),
		progress: make([]atomic.Int64, len(loads)),
		done:     make(chan struct{}),
	}
	var wg sync.WaitGroup
	for i, l := range loads {
		wg.Go(func() { lr.results[i], lr.errs[i] = l.run(rate/float64(len(loads)), total, &lr.progress[i]) })
	}
	go func() { wg.Wait(); close(lr.done) }()
	t.Cleanup(func() {
		select {
		case <-lr.done:
		case <-time.After(total + time.Minute):
			t.Errorf("publishing did not end")
		}
	})
	return lr
}

// sleep waits for d (if d > 0), failing the test if publishing ends
// meanwhile ("publishing ended " + when).
func (lr *loadRun) sleep(t *testing.T, d time.Duration, when string) {
	t.Helper()
	if d <= 0 {
		return
	}
	select {
	case <-time.After(d):
	case <-lr.done:
		t.Fatal("publishing ended " + when)
	}
}

// wait waits until publishing has ended, fails the test if a publish
// failed, and returns what each agent published.
func (lr *loadRun) wait(t *testing.T) []published {
	t.Helper()
	select {
	case <-lr.done:
	case <-time.After(lr.total + time.Minute):
		t.Fatal("publishing did not end")
	}
	for i, err := range lr.errs {
		if err != nil {
			t.Fatalf("load%d: %v", i+1, err)
		}
	}
	return lr.results
}

// sample is one published sample of the temps feed, with every value type.
type sample struct {
	t   float64
	seq int64
}

// text is the string field of a sample: it needs every escape of line
// protocol.
func (s sample) text() string { return fmt.Sprintf("q\"uo\\te,c=m a\nnl %d", s.seq) }

func (s sample) data() map[string]any {
	return map[string]any{
		"seq":  s.seq,
		"i":    -s.seq,
		"f":    float64(s.seq) + 0.25,
		"two":  2.0,
		"flag": s.seq%2 == 0,
		"s":    s.text(),
	}
}

// publish publishes samples on the temps feed.
func (s *source) publish(t *testing.T, samples ...sample) {
	t.Helper()
	for _, smp := range samples {
		if err := s.temps.PublishSample("b", smp.t, smp.data()); err != nil {
			t.Fatalf("publish %v: %v", smp, err)
		}
	}
}

// samples returns samples with seq from..to (inclusive), at whole seconds
// plus a quarter after t0.
func samples(from, to int64) []sample {
	var out []sample
	for i := from; i <= to; i++ {
		out = append(out, sample{t: 1795294463.25 + float64(i), seq: i})
	}
	return out
}

// waitSubscribed waits until the agent's feed subscription is in place:
// it publishes on the unrecorded feed until an event arrives.
func waitSubscribed(t *testing.T, ia *influxAgent, src *source) {
	t.Helper()
	start := ia.Received()
	waitFor(t, 10*time.Second, "subscription", func() bool {
		if err := src.other.Publish(map[string]any{"probe": true}); err != nil {
			t.Fatalf("probe: %v", err)
		}
		deadline := time.Now().Add(200 * time.Millisecond)
		for time.Now().Before(deadline) {
			if ia.Received() > start {
				return true
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	})
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// queryRows runs q, failing the test on an error.
func queryRows(t *testing.T, srv *influxtest.Server, db, q string) []models.Row {
	t.Helper()
	rows, err := srv.QueryRowsErr(t.Context(), db, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return rows
}

// waitCount waits until SELECT count(field) FROM measurement WHERE
// feed=feed returns n.
func waitCount(t *testing.T, srv *influxtest.Server, db, measurement, feed, field string, n int64) {
	t.Helper()
	q := fmt.Sprintf(`SELECT count(%q) FROM %q WHERE "feed" = '%s'`, field, measurement, feed)
	var got int64
	waitFor(t, 10*time.Second, fmt.Sprintf("%d points of %s %s", n, measurement, feed), func() bool {
		rows, err := srv.QueryRowsErr(t.Context(), db, q)
		if err != nil || len(rows) == 0 || len(rows[0].Values) == 0 {
			return false
		}
		got, _ = rows[0].Values[0][1].(json.Number).Int64()
		if got > n {
			t.Fatalf("%s: %d points, want %d", q, got, n)
		}
		return got == n
	})
}

// subscribeHeartbeat subscribes a local client to the agent's heartbeat
// and returns a channel of the op codes of record.
func subscribeHeartbeat(t *testing.T, r *router.Router, addr string) <-chan int64 {
	t.Helper()
	c, err := r.ConnectLocal(client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ch := make(chan int64, 1024)
	err = c.Subscribe(addr+".feeds.heartbeat", func(ev *wamp.Event) {
		pair, _ := ev.Arguments[0].([]any)
		if len(pair) != 2 {
			t.Errorf("heartbeat args %v", ev.Arguments)
			return
		}
		m, _ := pair[0].(map[string]any)
		code, ok := asInt(m["record"])
		if !ok {
			t.Errorf("heartbeat %v has no record op code", m)
			return
		}
		select {
		case ch <- code:
		default:
		}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// waitHeartbeat waits for a heartbeat with record's op code want.
func waitHeartbeat(t *testing.T, ch <-chan int64, want int64) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case code := <-ch:
			if code == want {
				return
			}
		case <-timeout:
			t.Fatalf("no heartbeat with record op code %d", want)
		}
	}
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		return int64(x), true
	case int:
		return int64(x), true
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	}
	return 0, false
}

func ptr[T any](v T) *T { return &v }

// testEnv is an environment for the agent's credentials that a test may
// change while the agent runs.
type testEnv struct {
	mu sync.Mutex
	m  map[string]string
}

func (e *testEnv) lookup(k string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.m[k]
	return v, ok
}

func (e *testEnv) set(k, v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[k] = v
}
