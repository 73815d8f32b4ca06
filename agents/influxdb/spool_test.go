package influxdb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocsclient "github.com/ocsflux/ocsflux/agents/client"
	"github.com/ocsflux/ocsflux/internal/influxtest"
)

// loadCounts returns count(seq), sum(seq) and sum(x) of a load agent's
// points in InfluxDB (zeros when there are none).
func loadCounts(ctx context.Context, srv *influxtest.Server, db, addr string) (n, seqSum int64, xSum float64, err error) {
	q := fmt.Sprintf(`SELECT count("seq"), sum("seq"), sum("x") FROM %q WHERE "feed" = '%s'`, addr, loadFeed)
	rows, err := srv.QueryRowsErr(ctx, db, q)
	if err != nil || len(rows) == 0 || len(rows[0].Values) == 0 {
		return 0, 0, 0, err
	}
	v := rows[0].Values[0]
	n, _ = v[1].(json.Number).Int64()
	seqSum, _ = v[2].(json.Number).Int64()
	xSum, _ = v[3].(json.Number).Float64()
	return n, seqSum, xSum, nil
}

// checkLoad waits until InfluxDB holds as many points of a load agent as
// it published, then checks their checksums: every point is there exactly
// once.
func checkLoad(t *testing.T, srv *influxtest.Server, db, addr string, p published, d time.Duration) {
	t.Helper()
	var n, seqSum int64
	var xSum float64
	deadline := time.Now().Add(d)
	var prevN, prevSeq int64 = -1, -1
	for {
		var err error
		n, seqSum, xSum, err = loadCounts(t.Context(), srv, db, addr)
		// InfluxDB computes the three aggregates with separate iterators,
		// so while points are still landing (the replay) one reading can
		// mix two moments: wait for two equal readings in a row.
		if err == nil && n >= p.n && n == prevN && seqSum == prevSeq {
			break
		}
		prevN, prevSeq = n, seqSum
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d points in InfluxDB after %v (err %v)", addr, n, p.n, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n != p.n || seqSum != p.seqSum() || xSum != float64(p.seqSum())/2 {
		t.Errorf("%s: count %d sum(seq) %d sum(x) %g, want %d %d %g", addr, n, seqSum, xSum, p.n, p.seqSum(), float64(p.seqSum())/2)
	}
}

// segBytes returns the number of .seg files in dir and their total size.
func segBytes(t *testing.T, dir string) (files int, size int64) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("spool dir: %v", err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".seg") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		files++
		size += fi.Size()
	}
	return files, size
}

// sessionData returns record's current session data.
func (ia *influxAgent) sessionData(t *testing.T) map[string]any {
	t.Helper()
	d, _ := ia.ops(t, ocsclient.ActionStatus, nil, nil).Session["data"].(map[string]any)
	return d
}

// TestOutageNoDataLoss: agents publish through the router at a steady rate
// while influxd is stopped for a while and resumed. Data that could not be
// written is spooled (the session data shows it, degraded with a reason)
// and replayed: at the end InfluxDB holds every published point exactly
// once (per-feed count and checksums of both fields) and the spool is
// empty, in the session data and on disk.
//
// It runs the scenario: 5 000 points/s for 60 s with influxd
// stopped for 20 s in the middle. OCSFLUX_OUTAGE_SHORT=1 runs a shorter
// version while developing (2 000 points/s for 12 s, 4 s outage). Not
// parallel: while influxd is down its port is free.
func TestOutageNoDataLoss(t *testing.T) {
	rate, total, outageAt, outage := 5000.0, 60*time.Second, 20*time.Second, 20*time.Second
	if os.Getenv("OCSFLUX_OUTAGE_SHORT") == "1" {
		rate, total, outageAt, outage = 2000, 12*time.Second, 4*time.Second, 4*time.Second
	}
	srv := influxtest.Start(t)
	r := startRouter(t)
	src := startSource(t, r)
	const db = "outage_spool"
	opts := testOptions(srv.URL, db, "record")
	opts.SpoolDir = filepath.Join(t.TempDir(), "spool")
	ia := startInflux(t, r, opts, "", nil)
	waitSubscribed(t, ia, src)
	ia.waitRecording(t)
	loads := []*loadAgent{startLoadAgent(t, r, "load1"), startLoadAgent(t, r, "load2")}

	lr := startLoadRun(t, loads, rate, total)
	lr.sleep(t, outageAt, "before the outage")
	srv.Kill()
	outageEnd := time.Now().Add(outage)
	var spooled map[string]any
	waitFor(t, outage+10*time.Second, "data spooled while degraded", func() bool {
		s := ia.ops(t, ocsclient.ActionStatus, nil, nil).Session
		d, _ := s["data"].(map[string]any)
		n, _ := asInt(d["spool_points"])
		if s["degraded"] == true && n > 0 {
			spooled = d
			return true
		}
		return false
	})
	if reason, _ := spooled["degraded_reason"].(string); reason == "" {
		t.Errorf("degraded without a reason: %v", spooled)
	}
	if n, _ := asInt(spooled["spool_bytes"]); n <= 0 {
		t.Errorf("spool_bytes %v while spooling", spooled["spool_bytes"])
	}
	if ts, _ := spooled["spool_oldest_s"].(float64); ts < loadT0 {
		t.Errorf("spool_oldest_s %v while spooling", spooled["spool_oldest_s"])
	}
	lr.sleep(t, time.Until(outageEnd), "during the outage")
	if err := srv.Resume(t.Context()); err != nil {
		t.Fatalf("resume influxd: %v", err)
	}
	results := lr.wait(t)

	for i, l := range loads {
		checkLoad(t, srv, db, l.addr, results[i], 30*time.Second+outage)
	}
	sess := ia.waitSession(t, "spool empty", 10*time.Second, func(s map[string]any) bool {
		d, _ := s["data"].(map[string]any)
		n, ok := asInt(d["spool_points"])
		return ok && n == 0 && s["degraded"] == false
	})
	d, _ := sess["data"].(map[string]any)
	if n, _ := asInt(d["replayed"]); n <= 0 {
		t.Errorf("replayed %v after an outage", d["replayed"])
	}
	if n, _ := asInt(d["spooled"]); n <= 0 {
		t.Errorf("spooled %v after an outage", d["spooled"])
	}
	for _, k := range []string{"spool_dropped", "corrupt_records", "points_dropped", "dead_lettered"} {
		if n, ok := asInt(d[k]); !ok || n != 0 {
			t.Errorf("%s = %v, want 0", k, d[k])
		}
	}
	if ts, _ := d["spool_oldest_s"].(float64); ts != 0 {
		t.Errorf("spool_oldest_s %v with an empty spool", d["spool_oldest_s"])
	}
	waitFor(t, 10*time.Second, "no spooled data left on disk", func() bool {
		_, size := segBytes(t, opts.SpoolDir)
		return size == 0
	})
	t.Logf("published %v points/s for %v, %v outage: %d + %d points, %v replayed",
		rate, total, outage, results[0].n, results[1].n, d["replayed"])
}

// TestSIGTERMSpoolsAndReplays: a shutdown (Run's context cancelled, as
// SIGTERM does) while influxd is down loses nothing: what is in memory is
// spooled (files in the spool directory, logged), and a new agent on the
// same spool directory writes it, exactly once, when influxd is back. Both
// a shutdown before InfluxDB ever answered and one while degraded after
// writing are covered. Not parallel: while influxd is down its port is
// free.
func TestSIGTERMSpoolsAndReplays(t *testing.T) {
	srv := influxtest.Start(t)
	srv.Kill()
	r := startRouter(t)
	src := startSource(t, r)
	const db = "sigterm_spool"
	opts := testOptions(srv.URL, db, "record")
	opts.SpoolDir = filepath.Join(t.TempDir(), "spool")

	// publishWhileDown starts an agent, publishes seq from..to while
	// influxd is down, shuts the agent down and checks the data was
	// spooled.
	publishWhileDown := func(ia *influxAgent, from, to int64) {
		t.Helper()
		received := ia.Received()
		src.publish(t, samples(from, to)...)
		n := uint64(to - from + 1)
		waitFor(t, 5*time.Second, "events received", func() bool { return ia.Received() >= received+n })
		if err := ia.shutdown(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if files, size := segBytes(t, opts.SpoolDir); files == 0 || size == 0 {
			t.Fatalf("spool %s: %d segment files, %d bytes after a shutdown with data unwritten", opts.SpoolDir, files, size)
		}
		if len(ia.logs.lines("spool_dir="+opts.SpoolDir)) == 0 {
			t.Errorf("spooled data not logged at shutdown; log:\n%s", ia.logs)
		}
		if len(ia.logs.lines("not written")) != 0 {
			t.Errorf("data lost at shutdown; log:\n%s", ia.logs)
		}
	}

	// 1. InfluxDB never answered.
	ia := startInflux(t, r, opts, "", nil)
	waitSubscribed(t, ia, src)
	waitFor(t, 10*time.Second, "a failed connection attempt", func() bool { return len(ia.logs.lines("cannot reach InfluxDB")) > 0 })
	publishWhileDown(ia, 1, 20)

	// 2. A new agent on the same spool writes it when InfluxDB is back.
	if err := srv.Resume(t.Context()); err != nil {
		t.Fatalf("resume influxd: %v", err)
	}
	ia = startInflux(t, r, opts, "", nil)
	waitSubscribed(t, ia, src)
	ia.waitRecording(t)
	waitCount(t, srv, db, srcAddr, "temps", "seq", 20)
	checkValues(t, srv, db, samples(1, 20))

	// 3. Degraded after writing: InfluxDB goes away, then a shutdown.
	srv.Kill()
	ia.waitSession(t, "degraded", 10*time.Second, func(s map[string]any) bool { return s["degraded"] == true })
	publishWhileDown(ia, 21, 50)

	// 4. Everything arrives exactly once with the next agent.
	if err := srv.Resume(t.Context()); err != nil {
		t.Fatalf("resume influxd: %v", err)
	}
	ia = startInflux(t, r, opts, "", nil)
	ia.waitRecording(t)
	waitCount(t, srv, db, srcAddr, "temps", "seq", 50)
	checkValues(t, srv, db, samples(1, 50))
	ia.waitSession(t, "spool empty", 10*time.Second, func(s map[string]any) bool {
		d, _ := s["data"].(map[string]any)
		n, ok := asInt(d["spool_points"])
		r, _ := asInt(d["replayed"])
		return ok && n == 0 && r >= 30
	})
}
