package influxdb_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents"
	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/agents/router"
	"github.com/ocsflux/ocsflux/feeds"
)

// The in-process pipeline of BenchmarkPipeline.
const (
	// pipeSources is the number of publishing agents (ocsflux bench's
	// default).
	pipeSources = 8
	// pipeFields is the number of float fields per sample.
	pipeFields = 10
	// pipeWindow bounds the feed events published but not yet read by
	// the InfluxDB agent's subscription: far below the router's
	// per-session queue (4096), so the router never drops an event and
	// every run ends with all points written.
	pipeWindow = 1000
	// pipeRing is how many distinct messages each source cycles through.
	pipeRing = 16
	// pipeFlush is the agent's --flush-interval: short, so that the end of
	// a run (the last, partial batch) does not dominate short runs.
	pipeFlush = 100 * time.Millisecond
	// pipeTick is how often the driver hands out publish permits.
	pipeTick = 200 * time.Microsecond
	// pipeDB is the database the agent writes to.
	pipeDB = "bench"
)

// The goroutine label (pprof) that tells the parts of the process apart.
const (
	sideLabel     = "side"
	sidePublisher = "publisher" // the InfluxDB agent: WAMP receive, decode, encode, HTTP writes
	sideRouter    = "router"    // the WAMP router
	sideSources   = "sources"   // the publishing agents' WAMP clients
	sideSink      = "sink"      // the HTTP server standing in for InfluxDB
	sideDriver    = "driver"    // the benchmark's pacing goroutine
)

// BenchmarkPipeline runs the whole receive path in one process: pipeSources
// WebSocket clients publish OCS feed events (one block of pipeFields float
// fields, 10 samples or 1 sample per message) through ocsflux's router to
// the real InfluxDBAgent (record running, default options but a 100 ms
// flush interval), which writes line protocol to an httptest server
// answering as InfluxDB 1.x. One op is one point: each run publishes
// ⌈b.N/samples⌉ messages and waits until the sink has all their points.
//
// Sub-benchmarks: serialization (msgpack, the default, and json; the same
// for the sources and the agent) × samples per message × rate: "max"
// publishes as fast as the agent reads (at most pipeWindow events in
// flight, so the router never drops), "20kps" paces the sources at 20,000
// points/s (the CPU target).
//
// Metrics: points/s; cpu-us/point, the CPU (user+system, getrusage) of the
// whole process (router, sources, agent, sink) per point; and from a CPU
// profile taken during the run with goroutine labels, the share of each
// part: pub-us/point is the InfluxDB agent's own (its WAMP connection,
// decoding, encoding, batching and HTTP writes), router-us/point,
// src-us/point, sink-us/point, and rt-us/point for unlabeled runtime work
// (GC background workers, scheduler). The shares need the benchmark's own
// profile: with -cpuprofile they are not reported; use
// `go tool pprof -tagfocus side=publisher` on that profile instead.
// allocs/op are those of the whole process per point. drops counts events
// the router dropped (must be 0).
func BenchmarkPipeline(b *testing.B) {
	for _, ser := range []string{"msgpack", "json"} {
		for _, samples := range []int{10, 1} {
			for _, rate := range []int{0, 20000} {
				name := fmt.Sprintf("%s/%dsamples/%s", ser, samples, rateName(rate))
				var p *pipeline
				b.Run(name, func(b *testing.B) {
					if p == nil {
						var err error
						if p, err = startPipeline(ser, samples); err != nil {
							b.Fatal(err)
						}
					}
					p.run(b, rate)
				})
				if p != nil {
					if err := p.close(); err != nil {
						b.Errorf("%s: %v", name, err)
					}
				}
			}
		}
	}
}

func rateName(rate int) string {
	if rate == 0 {
		return "max"
	}
	return fmt.Sprintf("%dkps", rate/1000)
}

// pipeline is a running router, InfluxDB agent, sources and sink.
type pipeline struct {
	samples int
	sink    *pipeSink
	router  *router.Router
	agent   *influxdb.Agent
	sources []*pipeSource

	cancel  context.CancelFunc
	runDone []chan error // router's and agent's Run results
}

// pipeSource is one publishing agent: a WAMP client over WebSocket and the
// argument lists of its messages.
type pipeSource struct {
	c     *client.Client
	topic string
	ring  [pipeRing]wamp.List
}

func startPipeline(ser string, samples int) (p *pipeline, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	p = &pipeline{samples: samples, cancel: cancel}
	defer func() {
		if err != nil {
			_ = p.close()
			p = nil
		}
	}()
	labelled := func(side string, f func() error) error {
		var err error
		pprof.Do(ctx, pprof.Labels(sideLabel, side), func(context.Context) { err = f() })
		return err
	}
	discard := slog.New(slog.DiscardHandler)

	_ = labelled(sideSink, func() error { p.sink = newPipeSink(influxAddr + ","); return nil })

	err = labelled(sideRouter, func() error {
		r, err := router.New(router.Config{Listen: "127.0.0.1:0", Logger: discard})
		if err != nil {
			return err
		}
		p.router = r
		done := make(chan error, 1)
		p.runDone = append(p.runDone, done)
		go func() { done <- r.Run(ctx) }()
		select {
		case <-r.Ready():
			return nil
		case err := <-done:
			return fmt.Errorf("router: %w", err)
		case <-time.After(10 * time.Second):
			return fmt.Errorf("router not ready")
		}
	})
	if err != nil {
		return p, err
	}

	err = labelled(sidePublisher, func() error {
		o := influxdb.Defaults()
		o.URL = p.sink.srv.URL
		o.Database = pipeDB
		o.FlushInterval = pipeFlush
		o.ShutdownTimeout = 5 * time.Second
		a, err := influxdb.New(influxdb.Config{
			Agent: agents.Config{
				AddressRoot: testRoot, InstanceID: influxID, URL: p.router.WSURL(), Realm: p.router.Realm(),
				Serialization: ser, ResponseTimeout: 5 * time.Second, Logger: discard,
			},
			Options:      o,
			LookupEnv:    func(string) (string, bool) { return "", false },
			ConnectRetry: 50 * time.Millisecond,
		})
		if err != nil {
			return err
		}
		p.agent = a
		done := make(chan error, 1)
		p.runDone = append(p.runDone, done)
		go func() { done <- a.Run(ctx) }()
		return nil
	})
	if err != nil {
		return p, err
	}

	err = labelled(sideSources, func() error {
		for i := range pipeSources {
			s, err := newPipeSource(ctx, p.router, ser, i, samples)
			if err != nil {
				return err
			}
			p.sources = append(p.sources, s)
		}
		return nil
	})
	if err != nil {
		return p, err
	}
	return p, p.warmUp()
}

func newPipeSource(ctx context.Context, r *router.Router, ser string, i, samples int) (*pipeSource, error) {
	s := serialize.MSGPACK
	if ser == "json" {
		s = serialize.JSON
	}
	nlog := log.New(io.Discard, "", 0)
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	peer, err := transport.ConnectWebsocketPeer(dctx, r.WSURL(), s, nil, nlog, nil)
	if err != nil {
		return nil, fmt.Errorf("source %d: %w", i, err)
	}
	c, err := client.NewClient(peer, client.Config{Realm: r.Realm(), Logger: nlog, ResponseTimeout: 5 * time.Second})
	if err != nil {
		peer.Close()
		return nil, fmt.Errorf("source %d: join: %w", i, err)
	}
	addr := fmt.Sprintf("%s.bench%02d", testRoot, i)
	class := "FakeDataAgent"
	info := feeds.Info{AgentAddress: addr, FeedName: "false_temperatures", Address: feeds.FeedAddress(addr, "false_temperatures"),
		Record: true, SessionID: "1795294463.5561733", AgentClass: &class}
	src := &pipeSource{c: c, topic: info.Address}
	// FakeDataAgent-like values: a random walk from 0.1, 17 significant
	// digits, one sample per 0.1 s.
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	t0 := 1795294463.0 + float64(i)
	walk := make([]float64, pipeFields)
	for f := range walk {
		walk[f] = 0.1
	}
	for m := range src.ring {
		blk := feeds.Block{Name: "temps", Timestamps: make([]float64, samples)}
		for f := range pipeFields {
			vals := make([]feeds.Value, samples)
			for k := range vals {
				walk[f] += (rng.Float64() - 0.5) * 0.003
				vals[k] = feeds.Float(walk[f] + (rng.Float64()-0.5)*0.002)
			}
			blk.Fields = append(blk.Fields, feeds.Field{Name: fmt.Sprintf("channel_%02d", f), Values: vals})
		}
		for k := range blk.Timestamps {
			blk.Timestamps[k] = t0 + 0.1*float64(m*samples+k)
		}
		src.ring[m] = feeds.Message{Info: info, Blocks: []feeds.Block{blk}}.Args()
	}
	return src, nil
}

// warmUp publishes from every source until the agent writes what they
// send (its subscription is in place and record is connected), then waits
// until everything it accepted meanwhile is written.
func (p *pipeline) warmUp() error {
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range p.sources {
		for before := p.sink.points.Load(); p.sink.points.Load() == before; {
			if time.Now().After(deadline) {
				return fmt.Errorf("warm-up: no point of %s written in time (received %d, ignored %d)",
					s.topic, p.agent.Received(), p.agent.Ignored())
			}
			if err := s.c.Publish(s.topic, nil, s.ring[0], nil); err != nil {
				return fmt.Errorf("warm-up: publish: %w", err)
			}
			p.sink.wait(before+1, time.Now().Add(300*time.Millisecond))
		}
	}
	want := func() uint64 { return (p.agent.Received() - p.agent.Ignored()) * uint64(p.samples) }
	if !p.sink.wait(want(), deadline) || p.sink.points.Load() != want() {
		return fmt.Errorf("warm-up: sink has %d points, the agent accepted %d", p.sink.points.Load(), want())
	}
	return nil
}

// run is one benchmark run: ⌈b.N/samples⌉ messages, paced at rate points/s
// (0: as fast as the agent reads).
func (p *pipeline) run(b *testing.B, rate int) {
	events := (b.N + p.samples - 1) / p.samples
	points := uint64(events * p.samples)
	base := p.sink.points.Load()
	dropped0 := p.router.Stats().DroppedEvents

	var prof bytes.Buffer
	profiling := pprof.StartCPUProfile(&prof) == nil
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()

	tokens := make(chan int, pipeWindow)
	abort := make(chan struct{})
	go pprof.Do(context.Background(), pprof.Labels(sideLabel, sideDriver), func(context.Context) {
		p.drive(events, float64(rate)/float64(p.samples), tokens, abort)
	})
	var wg sync.WaitGroup
	var pubErr atomic.Pointer[error]
	for _, s := range p.sources {
		wg.Go(func() {
			pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels(sideLabel, sideSources)))
			for seq := range tokens {
				if err := s.c.Publish(s.topic, nil, s.ring[seq%pipeRing], nil); err != nil {
					pubErr.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	// Bounded: 30 s plus 100 µs per point (10,000 points/s at worst).
	deadline := start.Add(30*time.Second + time.Duration(points)*100*time.Microsecond)
	ok := p.sink.wait(base+points, deadline)
	close(abort)
	wg.Wait()
	wall := time.Since(start)
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	if profiling {
		pprof.StopCPUProfile()
	}
	drops := p.router.Stats().DroppedEvents - dropped0
	if e := pubErr.Load(); e != nil {
		b.Fatalf("publish: %v", *e)
	}
	if !ok {
		b.Fatalf("sink has %d of %d points after %v (agent received %d events; router dropped %d)",
			p.sink.points.Load()-base, points, wall.Round(time.Millisecond), p.agent.Received(), drops)
	}
	if got := p.sink.points.Load() - base; got != points {
		b.Fatalf("sink has %d points, want %d", got, points)
	}

	n := float64(points)
	b.ReportMetric(n/wall.Seconds(), "points/s")
	cpu := tvSeconds(ru1.Utime) + tvSeconds(ru1.Stime) - tvSeconds(ru0.Utime) - tvSeconds(ru0.Stime)
	b.ReportMetric(cpu*1e6/n, "cpu-us/point")
	b.ReportMetric(float64(drops), "drops")
	if !profiling {
		return
	}
	shares, err := profileShares(prof.Bytes(), sideLabel)
	if err != nil {
		b.Fatalf("cpu profile: %v", err)
	}
	for _, m := range []struct{ side, unit string }{
		{sidePublisher, "pub-us/point"}, {sideRouter, "router-us/point"}, {sideSources, "src-us/point"},
		{sideSink, "sink-us/point"}, {"", "rt-us/point"},
	} {
		b.ReportMetric(shares[m.side].Seconds()*1e6/n, m.unit)
	}
}

func tvSeconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

// drive hands out events publish permits (their sequence numbers), at
// most eventRate per second (0: no limit) and never more than pipeWindow
// ahead of what the agent's subscription has read. It closes tokens when
// done or when abort is closed.
func (p *pipeline) drive(events int, eventRate float64, tokens chan<- int, abort <-chan struct{}) {
	defer close(tokens)
	tick := time.NewTicker(pipeTick)
	defer tick.Stop()
	start := time.Now()
	read0 := p.agent.Received()
	for issued := 0; issued < events; {
		allowed := min(events, issued+pipeWindow-(issued-int(p.agent.Received()-read0)))
		if eventRate > 0 {
			allowed = min(allowed, int(time.Since(start).Seconds()*eventRate)+1)
		}
		for ; issued < allowed; issued++ {
			tokens <- issued
		}
		if issued == events {
			return
		}
		select {
		case <-tick.C:
		case <-abort:
			return
		}
	}
}

// close stops the sources, the agent (its final flush) and the router,
// then the sink.
func (p *pipeline) close() error {
	var errs []error
	for _, s := range p.sources {
		_ = s.c.Close()
	}
	p.cancel()
	for _, done := range p.runDone {
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, err)
			}
		case <-time.After(20 * time.Second):
			errs = append(errs, fmt.Errorf("router or agent did not stop"))
		}
	}
	if p.sink != nil {
		p.sink.srv.Close()
	}
	if len(errs) > 0 {
		return fmt.Errorf("shutdown: %v", errs)
	}
	return nil
}

// pipeSink answers as InfluxDB 1.x: SHOW DATABASES lists pipeDB, CREATE
// DATABASE succeeds, /write counts the lines (but those starting with
// skipPrefix, the agent's own stats) and answers 204.
type pipeSink struct {
	srv        *httptest.Server
	skipPrefix []byte
	points     atomic.Uint64

	mu     sync.Mutex
	notify chan struct{} // closed and replaced on every write
}

func newPipeSink(skipPrefix string) *pipeSink {
	s := &pipeSink{skipPrefix: []byte(skipPrefix), notify: make(chan struct{})}
	s.srv = httptest.NewServer(s)
	return s
}

func (s *pipeSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ping":
		w.WriteHeader(http.StatusNoContent)
	case "/query":
		q := r.URL.Query().Get("q")
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(q, "SHOW DATABASES") {
			fmt.Fprintf(w, `{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["_internal"],[%q]]}]}]}`, pipeDB)
			return
		}
		fmt.Fprint(w, `{"results":[{"statement_id":0}]}`)
	case "/write":
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		data, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		s.count(data)
	default:
		http.NotFound(w, r)
	}
}

// count adds the points of one write body.
func (s *pipeSink) count(data []byte) {
	if len(data) == 0 {
		return
	}
	lines := bytes.Count(data, []byte{'\n'})
	if data[len(data)-1] != '\n' {
		lines++
	}
	skip := bytes.Count(data, append([]byte{'\n'}, s.skipPrefix...))
	if bytes.HasPrefix(data, s.skipPrefix) {
		skip++
	}
	s.points.Add(uint64(lines - skip))
	s.mu.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

// wait waits until the sink has at least n points or deadline passes, and
// reports whether it has them.
func (s *pipeSink) wait(n uint64, deadline time.Time) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		s.mu.Lock()
		ch := s.notify
		s.mu.Unlock()
		if s.points.Load() >= n {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return s.points.Load() >= n
		}
	}
}
