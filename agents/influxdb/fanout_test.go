package influxdb_test

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/agents"
	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/internal/influxtest"
	"github.com/ocsflux/ocsflux/internal/vmtest"
)

// holdProxy is an HTTP proxy on 127.0.0.1 in front of a server (target).
// hold waits for the requests being forwarded and holds new ones until
// release; a request the target does not answer (it is down) is answered
// by closing the connection, as a dead server's port would.
//
// TestFanOutFault needs it because VictoriaMetrics acknowledges a write
// (204) before the points are on disk and loses them when it is killed:
// to kill it without losing acknowledged points the test holds the
// writes, persists what VictoriaMetrics has, kills it, and lets the writes
// through again, to the dead server.
type holdProxy struct {
	srv    *httptest.Server
	target string
	client *http.Client
	mu     sync.RWMutex
	held   atomic.Bool
	failed atomic.Int64 // requests the target did not answer
}

func startHoldProxy(t *testing.T, target string) *holdProxy {
	t.Helper()
	p := &holdProxy{target: target, client: &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second}}
	p.srv = httptest.NewServer(p)
	t.Cleanup(func() {
		p.release()
		p.srv.Close()
		p.client.CloseIdleConnections()
	})
	return p
}

func (p *holdProxy) URL() string { return p.srv.URL }

func (p *holdProxy) hold() {
	p.mu.Lock()
	p.held.Store(true)
}

func (p *holdProxy) release() {
	if p.held.CompareAndSwap(true, false) {
		p.mu.Unlock()
	}
}

func (p *holdProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		p.failed.Add(1)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	maps.Copy(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// outputEntry returns the entry of output name in the session data's
// "outputs" (nil if none).
func outputEntry(d map[string]any, name string) map[string]any {
	outs, _ := d["outputs"].(map[string]any)
	o, _ := outs[name].(map[string]any)
	return o
}

// checkVMLoad waits until VictoriaMetrics holds exactly as many samples of
// each field of a load agent as it published, then checks that each seq
// 0..n-1 is there once, with its time (at millisecond precision) and x
// value. VictoriaMetrics keeps duplicates, so any point written twice is
// found.
func checkVMLoad(t *testing.T, vm *vmtest.Server, db, addr string, p published, d time.Duration) {
	t.Helper()
	wantMs := func(i int64) int64 { return int64((loadT0+float64(i)*loadDT)*1e9) / 1e6 }
	for _, field := range []string{"seq", "x"} {
		name := addr + "_" + field
		match := fmt.Sprintf(`{__name__=%q, feed=%q}`, name, loadFeed)
		var ss []vmtest.Series
		count := 0
		deadline := time.Now().Add(d)
		for {
			var err error
			if err = vm.FlushErr(t.Context()); err == nil {
				ss, err = vm.ExportErr(t.Context(), match)
			}
			count = 0
			for _, s := range ss {
				count += len(s.Values)
			}
			if err == nil && int64(count) > p.n {
				t.Fatalf("VictoriaMetrics %s: %d samples, %d published: points written more than once", match, count, p.n)
			}
			if err == nil && int64(count) == p.n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("VictoriaMetrics %s: %d of %d samples after %v (err %v)", match, count, p.n, d, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if len(ss) != 1 || !maps.Equal(ss[0].Metric, map[string]string{"__name__": name, "feed": loadFeed, "db": db}) {
			t.Errorf("VictoriaMetrics %s: series %s, want one with labels feed=%s db=%s", match, dumpSeries(ss), loadFeed, db)
			continue
		}
		seen := make([]bool, p.n)
		bad := 0
		for j, v := range ss[0].Values {
			iv := v
			if field == "x" {
				iv = 2 * v
			}
			i := int64(iv)
			switch {
			case iv != math.Trunc(iv) || i < 0 || i >= p.n:
				bad++
				if bad <= 5 {
					t.Errorf("VictoriaMetrics %s: value %v at %d is not one published", match, v, ss[0].Timestamps[j])
				}
			case seen[i]:
				bad++
				if bad <= 5 {
					t.Errorf("VictoriaMetrics %s: seq %d twice", match, i)
				}
			case ss[0].Timestamps[j] != wantMs(i):
				bad++
				if bad <= 5 {
					t.Errorf("VictoriaMetrics %s: seq %d at %d ms, want %d", match, i, ss[0].Timestamps[j], wantMs(i))
				}
			}
			if i >= 0 && i < p.n {
				seen[i] = true
			}
		}
		if bad > 0 {
			t.Errorf("VictoriaMetrics %s: %d bad samples of %d", match, bad, count)
		}
	}
}

// TestFanOutFault is the fan-out fault test: an InfluxDBAgent
// writes to influxd (its main target) and, with --output, to
// VictoriaMetrics (api=v1, db=), each output with its own spool. Go agents
// publish at a steady rate through the router (5 000 points/s for 40 s)
// and VictoriaMetrics is killed for 15 s in the middle, then started
// again. While it is down, influxd keeps receiving the data with its
// usual latency (points published during the outage are in influxd within
// a few seconds, checked while VictoriaMetrics is still down), the
// record session is degraded naming the vm output, and the vm output
// spools while the main output stays connected (and never fails a write).
// At the end influxd holds every point exactly once (count and checksums)
// and so does VictoriaMetrics (every seq once, with its time and value:
// VictoriaMetrics keeps duplicates, so the counts must be exactly equal),
// and both spools are empty, in the session data and on disk
// (<spool>/*.seg, <spool>/output-vm/*.seg).
//
// VictoriaMetrics acknowledges points before they are on disk, so the
// kill goes through holdProxy: writes are held, VictoriaMetrics persists
// what it acknowledged and is killed (vm.Kill), and the writes go on to
// the dead server until vm.Resume.
//
// OCSFLUX_FANOUT_SHORT=1 runs a shorter version (2 000 points/s for 12 s,
// 6 s outage). Not parallel: while VictoriaMetrics is down its port is
// free.
func TestFanOutFault(t *testing.T) {
	if testing.Short() {
		t.Skip("runs influxd and victoria-metrics for 40 s; skipped under -short")
	}
	rate, total, outageAt, outage := 5000.0, 40*time.Second, 12*time.Second, 15*time.Second
	if os.Getenv("OCSFLUX_FANOUT_SHORT") == "1" {
		rate, total, outageAt, outage = 2000, 12*time.Second, 3*time.Second, 6*time.Second
	}
	// latencyBound is how long a published point may take to be in
	// influxd: the flush interval is 100 ms, so this is generous, for a
	// loaded 2-core machine under -race.
	const latencyBound = 5 * time.Second

	srv := influxtest.Start(t)
	vm := vmtest.Start(t)
	proxy := startHoldProxy(t, vm.URL())
	r := startRouter(t)
	src := startSource(t, r)
	const db, vmDB = "fanout", "fanout_vm"
	opts := testOptions(srv.URL, db, "record")
	opts.SpoolDir = filepath.Join(t.TempDir(), "spool")
	opts.Outputs = []string{proxy.URL() + "?api=v1&db=" + vmDB + "&name=vm"}
	vmSpool := filepath.Join(opts.SpoolDir, "output-vm")
	ia := startInflux(t, r, opts, "", nil)
	waitSubscribed(t, ia, src)
	ia.waitRecording(t)
	ia.waitSession(t, "both outputs connected", 10*time.Second, func(s map[string]any) bool {
		d, _ := s["data"].(map[string]any)
		return outputEntry(d, "influxdb")["connected"] == true && outputEntry(d, "vm")["connected"] == true
	})
	if fi, err := os.Stat(vmSpool); err != nil || !fi.IsDir() {
		t.Fatalf("the vm output's spool directory %s: %v", vmSpool, err)
	}
	loads := []*loadAgent{startLoadAgent(t, r, "fan1"), startLoadAgent(t, r, "fan2")}

	lr := startLoadRun(t, loads, rate, total)

	// probe checks that the points published so far are in influxd within
	// latencyBound and returns how long they took.
	probe := func(what string) time.Duration {
		t.Helper()
		marks := make([]int64, len(loads))
		for i := range loads {
			marks[i] = lr.progress[i].Load()
		}
		start := time.Now()
		for i, l := range loads {
			for {
				n, _, _, err := loadCounts(t.Context(), srv, db, l.addr)
				if err == nil && n >= marks[i] {
					break
				}
				if time.Since(start) > latencyBound {
					t.Errorf("%s: %s: %d of the %d points published are in influxd after %v (err %v)",
						what, l.addr, n, marks[i], latencyBound, err)
					return time.Since(start)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		return time.Since(start)
	}

	lr.sleep(t, outageAt, "before the outage")
	before := probe("before the outage")

	// VictoriaMetrics down: writes held, what it acknowledged persisted,
	// the process killed, the writes let through to the dead port.
	proxy.hold()
	vm.Persist(t)
	vm.Kill()
	proxy.release()
	outageEnd := time.Now().Add(outage)

	var down map[string]any
	ia.waitSession(t, "the vm output degraded and spooling", outage-2*time.Second, func(s map[string]any) bool {
		d, _ := s["data"].(map[string]any)
		o := outputEntry(d, "vm")
		reason, _ := o["degraded_reason"].(string)
		n, _ := asInt(o["spool_points"])
		if s["degraded"] == true && o["connected"] == false && reason != "" && n > 0 {
			down = d
			return true
		}
		return false
	})
	if reason, _ := down["degraded_reason"].(string); !strings.Contains(reason, "vm: ") {
		t.Errorf("degraded_reason %q while VictoriaMetrics is down: want it to name output vm", reason)
	}
	if o := outputEntry(down, "influxdb"); o["connected"] != true || o["degraded_reason"] != "" {
		t.Errorf("influxdb output while VictoriaMetrics is down: %v", o)
	}

	// influxd's latency while VictoriaMetrics is down.
	var during []time.Duration
	for len(during) < 2 || time.Until(outageEnd) > latencyBound+time.Second {
		lr.sleep(t, time.Second, "during the outage")
		during = append(during, probe(fmt.Sprintf("VictoriaMetrics down, probe %d", len(during)+1)))
		if len(during) >= 20 {
			break
		}
	}
	if time.Now().After(outageEnd) {
		t.Logf("the latency probes took longer than the outage (%v)", outage)
	}
	if d := ia.sessionData(t); outputEntry(d, "vm")["connected"] != false {
		t.Errorf("vm output connected while VictoriaMetrics is down: %v", outputEntry(d, "vm"))
	}

	lr.sleep(t, time.Until(outageEnd), "during the outage")
	if err := vm.Resume(t.Context()); err != nil {
		t.Fatalf("resume victoria-metrics: %v", err)
	}
	results := lr.wait(t)

	for i, l := range loads {
		checkLoad(t, srv, db, l.addr, results[i], 30*time.Second)
		checkVMLoad(t, vm, vmDB, l.addr, results[i], 60*time.Second+outage)
	}

	sess := ia.waitSession(t, "both outputs caught up, spools empty", 30*time.Second, func(s map[string]any) bool {
		d, _ := s["data"].(map[string]any)
		main, o := outputEntry(d, "influxdb"), outputEntry(d, "vm")
		n, ok := asInt(d["spool_points"])
		vmSpooled, ok2 := asInt(o["spool_points"])
		p1, _ := asInt(main["points_pending"])
		p2, _ := asInt(o["points_pending"])
		w1, _ := asInt(main["points_written"])
		w2, _ := asInt(o["points_written"])
		return ok && ok2 && n == 0 && vmSpooled == 0 && p1 == 0 && p2 == 0 && w1 == w2 &&
			s["degraded"] == false && o["connected"] == true && o["degraded_reason"] == ""
	})
	d, _ := sess["data"].(map[string]any)
	for _, name := range []string{"influxdb", "vm"} {
		o := outputEntry(d, name)
		for _, k := range []string{"points_rejected", "dead_lettered"} {
			if n, ok := asInt(o[k]); !ok || n != 0 {
				t.Errorf("output %s: %s = %v, want 0", name, k, o[k])
			}
		}
	}
	if n, _ := asInt(outputEntry(d, "vm")["write_errors"]); n == 0 {
		t.Errorf("vm output: no write errors counted across the outage: %v", outputEntry(d, "vm"))
	}
	// influxd never failed a write. (Its output may still have spooled
	// and replayed some data: batches wait in the spool while a write is
	// in flight for longer than the flush interval, 100 ms here.)
	if n, ok := asInt(outputEntry(d, "influxdb")["write_errors"]); !ok || n != 0 {
		t.Errorf("influxdb output: write_errors %v, want 0 (influxd was never down); its warnings:\n%s",
			outputEntry(d, "influxdb")["write_errors"], strings.Join(ia.logs.lines("output=influxdb", "level=WARN"), "\n"))
	}
	// The stats feed carries each output's counters, as integers.
	ft := fieldTypes(t, srv, db, ia.Address())
	for _, f := range influxdb.OutputStatsFields() {
		for _, name := range []string{"influxdb", "vm"} {
			if k := "output_" + name + "_" + f; ft[k] != "integer" {
				t.Errorf("stats feed field %s: type %q, want integer (fields %v)", k, ft[k], ft)
			}
		}
	}
	for _, dir := range []string{opts.SpoolDir, vmSpool} {
		waitFor(t, 10*time.Second, "no spooled data left in "+dir, func() bool {
			_, size := segBytes(t, dir)
			return size == 0
		})
	}
	t.Logf("published %v points/s for %v, VictoriaMetrics down %v: %d + %d points; influxd latency %v before, %v during the outage; "+
		"vm output: %v written, %v write errors, %d requests to the dead server; main output: %v replayed from its spool",
		rate, total, outage, results[0].n, results[1].n, before.Round(time.Millisecond), roundAll(during),
		outputEntry(d, "vm")["points_written"], outputEntry(d, "vm")["write_errors"], proxy.failed.Load(), d["replayed"])
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// TestAgentsFilter: --agents, --exclude-agents and --exclude-feeds select
// what is written: with --agents observatory.keep*, --exclude-agents
// observatory.keep2 and --exclude-feeds observatory.keep1.beta, of four
// agents' feeds only keep1's alpha is in influxd (the publisher's own
// stats feed, whose agent does not match --agents, neither); the points
// left out are counted in the session data's points_excluded and are not
// in its feeds.
func TestAgentsFilter(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	r := startRouter(t)
	src := startSource(t, r)
	keep1 := startFeedsAgent(t, r, "keep1", "alpha", "beta")
	keep2 := startFeedsAgent(t, r, "keep2", "alpha")
	other := startFeedsAgent(t, r, "other1", "alpha")
	const keep1Addr = testRoot + ".keep1"
	const db = "filter"
	opts := testOptions(srv.URL, db, "record")
	opts.Agents = []string{testRoot + ".keep*"}
	opts.ExcludeAgents = []string{testRoot + ".keep2"}
	opts.ExcludeFeeds = []string{keep1Addr + ".beta"}
	ia := startInflux(t, r, opts, "", nil)
	waitSubscribed(t, ia, src)
	ia.waitRecording(t)

	pub := func(f *agents.Feed, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if err := f.PublishSample("b", 1795294463.5+float64(i), map[string]any{"v": float64(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	pub(other["alpha"], 5)
	pub(keep2["alpha"], 4)
	pub(keep1["beta"], 3)
	pub(keep1["alpha"], 6)
	const excluded = 5 + 4 + 3
	waitCount(t, srv, db, keep1Addr, "alpha", "v", 6)
	sess := ia.waitSession(t, "points excluded and written", 10*time.Second, func(s map[string]any) bool {
		d, _ := s["data"].(map[string]any)
		n, _ := asInt(d["points_excluded"])
		fs, _ := d["feeds"].(map[string]any)
		a, _ := fs[keep1Addr].(map[string]any)
		alpha, _ := a["alpha"].(map[string]any)
		w, _ := asInt(alpha["points_written"])
		return n >= excluded && w == 6
	})
	d, _ := sess["data"].(map[string]any)
	if n, _ := asInt(d["points_excluded"]); n < excluded {
		t.Errorf("points_excluded %v, want at least %d", d["points_excluded"], excluded)
	}
	fs, _ := d["feeds"].(map[string]any)
	if got := slices.Sorted(maps.Keys(fs)); !slices.Equal(got, []string{keep1Addr}) {
		t.Errorf("session data feeds of agents %q, want only %s", got, keep1Addr)
	} else if a, _ := fs[keep1Addr].(map[string]any); !slices.Equal(slices.Sorted(maps.Keys(a)), []string{"alpha"}) {
		t.Errorf("session data feeds of %s: %v, want only alpha", keep1Addr, a)
	}

	var meas []string
	for _, v := range srv.Query(t, db, "SHOW MEASUREMENTS") {
		meas = append(meas, v[0].(string))
	}
	if !slices.Equal(meas, []string{keep1Addr}) {
		t.Errorf("measurements %q, want only %s", meas, keep1Addr)
	}
	var feeds []string
	for _, row := range srv.QueryRows(t, db, `SHOW TAG VALUES WITH KEY = "feed"`) {
		for _, v := range row.Values {
			feeds = append(feeds, row.Name+" "+v[1].(string))
		}
	}
	if want := []string{keep1Addr + " alpha"}; !slices.Equal(feeds, want) {
		t.Errorf("feeds %q, want %q", feeds, want)
	}
}
