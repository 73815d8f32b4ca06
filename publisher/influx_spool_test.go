package publisher_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/internal/influxtest"
	"github.com/ocsflux/ocsflux/publisher"
)

// EnvOutageSeconds sets the length of TestInfluxOutageSpoolReplay's
// stream, whose middle third is the outage. The full version (60 s
// of data with influxd stopped for 20 s):
//
//	OCSFLUX_OUTAGE_TEST_SECONDS=60 go test -run TestInfluxOutageSpoolReplay -timeout 10m ./publisher
const EnvOutageSeconds = "OCSFLUX_OUTAGE_TEST_SECONDS"

// waitLong is waitFor with a deadline of d.
func waitLong(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// streamBase is the first sample time of the streams (2027).
const streamBase = 1.8e9

// stream feeds several feeds of one agent with samples k = 0, 1, ... at
// 1 ms steps of sample time: x = k (integer) and y = k/4 (float, exact).
type stream struct {
	agent string
	feeds int
	next  []int64
}

func newStream(agent string, feeds int) *stream {
	return &stream{agent: agent, feeds: feeds, next: make([]int64, feeds)}
}

func (s *stream) feed(j int) string { return fmt.Sprintf("feed%d", j) }

// tick enqueues n samples per feed, one message per feed.
func (s *stream) tick(t *testing.T, r *running, n int) {
	for j := range s.feeds {
		m := msg(s.agent, s.feed(j), nil, field("x"), field("y"))
		b := &m.Blocks[0]
		for range n {
			k := s.next[j]
			s.next[j]++
			b.Timestamps = append(b.Timestamps, streamBase+float64(k)*1e-3)
			b.Fields[0].Values = append(b.Fields[0].Values, feeds.Int(k))
			b.Fields[1].Values = append(b.Fields[1].Values, feeds.Float(float64(k)/4))
		}
		if !r.Enqueue(m) {
			t.Errorf("Enqueue refused (feed %d)", j)
		}
	}
}

// check compares InfluxDB's count and sums per feed with what was sent:
// every point present exactly once (InfluxDB keeps one point per series
// and timestamp, so a duplicate cannot raise the count).
func (s *stream) check(t *testing.T, srv *influxtest.Server, db string) {
	t.Helper()
	rows := srv.QueryRows(t, db, fmt.Sprintf(`SELECT count("x"), sum("x"), sum("y") FROM %s GROUP BY "feed"`, quoteIdent(s.agent)))
	got := map[string][3]string{}
	for _, r := range rows {
		if len(r.Values) != 1 {
			t.Fatalf("rows %+v", rows)
		}
		v := r.Values[0]
		got[r.Tags["feed"]] = [3]string{fmt.Sprint(v[1]), fmt.Sprint(v[2]), fmt.Sprint(v[3])}
	}
	for j := range s.feeds {
		n := s.next[j]
		sum := n * (n - 1) / 2
		want := [3]string{strconv.FormatInt(n, 10), strconv.FormatInt(sum, 10), strconv.FormatFloat(float64(sum)/4, 'f', -1, 64)}
		if g := got[s.feed(j)]; g != want {
			t.Errorf("%s: count, sum(x), sum(y) = %v, want %v", s.feed(j), g, want)
		}
	}
	if len(got) != s.feeds {
		t.Errorf("%d feeds in InfluxDB, want %d", len(got), s.feeds)
	}
}

func (s *stream) total() uint64 {
	var n int64
	for _, k := range s.next {
		n += k
	}
	return uint64(n)
}

func outageDuration(t *testing.T) time.Duration {
	d := 12 * time.Second
	if v := os.Getenv(EnvOutageSeconds); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 3 {
			t.Fatalf("%s=%q: want a number of seconds >= 3", EnvOutageSeconds, v)
		}
		d = time.Duration(n) * time.Second
	}
	return d
}

// TestInfluxOutageSpoolReplay streams 5000 points/s (5 feeds) for
// EnvOutageSeconds (default 12 s) and stops influxd during the middle
// third. Meanwhile the data goes to the spool (memory stays small); at the
// end every point is in InfluxDB exactly once (per-feed counts and sums of
// values) and the spool is empty.
func TestInfluxOutageSpoolReplay(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "outage_spool"
	cfg := influxConfig(srv, db)
	cfg.SpoolDir = t.TempDir()
	cfg.FlushInterval = 100 * time.Millisecond
	cfg.RetryMax = 500 * time.Millisecond
	cfg.Timeout = 2 * time.Second
	r := start(t, cfg)
	<-r.Connected()

	dur := outageDuration(t)
	const tickEvery, perTick = 10 * time.Millisecond, 10 // 5 feeds × 10 samples / 10 ms
	ticks := int(dur / tickEvery)
	s := newStream("obs.stream", 5)
	killed, resumed := make(chan struct{}), make(chan error, 1)
	maxPending, sawDegraded := 0, false
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	for i := 0; i < ticks; i++ {
		<-tick.C
		s.tick(t, r, perTick)
		switch i {
		case ticks / 3:
			go func() { srv.Kill(); close(killed) }()
		case 2 * ticks / 3:
			<-killed
			go func() { resumed <- srv.Resume(context.Background()) }()
		}
		if i > ticks/3+50 && i < 2*ticks/3 && i%10 == 0 {
			st := r.Stats()
			maxPending = max(maxPending, st.PendingBytes)
			sawDegraded = sawDegraded || st.Degraded != ""
		}
	}
	if err := <-resumed; err != nil {
		t.Fatal(err)
	}
	total := s.total()
	waitLong(t, "everything written", 2*time.Minute, func() bool {
		st := r.Stats()
		return st.SpoolPoints == 0 && st.PendingPoints == 0 && st.Written+st.Spooled == total
	})
	st := r.Stats()
	t.Logf("%d points: %d written live, %d spooled, %d replayed; max %d bytes in memory during the outage",
		total, st.Written, st.Spooled, st.Replayed, maxPending)
	if st.Spooled == 0 || st.Replayed < st.Spooled || st.RejectedPoints != 0 || st.DeadLettered != 0 || !sawDegraded {
		t.Errorf("stats %+v (degraded seen: %v)", st, sawDegraded)
	}
	if maxPending > 1<<20 {
		t.Errorf("%d bytes in memory during the outage: data was not spooled", maxPending)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	s.check(t, srv, db)
	if files, _ := filepath.Glob(filepath.Join(cfg.SpoolDir, "*.seg")); len(files) != 0 {
		t.Errorf("spool not empty: %v", files)
	}
}

// TestInfluxStopSpoolsRestart: a stop (as at SIGTERM) with data in memory
// while influxd is down spools it; the next run writes it: nothing lost.
func TestInfluxStopSpoolsRestart(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "stop_spool"
	cfg := influxConfig(srv, db)
	cfg.SpoolDir = t.TempDir()
	cfg.FlushInterval = time.Hour // keep the data in memory
	r := start(t, cfg)
	<-r.Connected()
	srv.Kill()
	s := newStream("obs.stop", 2)
	for range 10 {
		s.tick(t, r, 50)
	}
	if st := r.Stats(); st.PendingPoints != 1000 || st.Spooled != 0 {
		t.Fatalf("before the stop: %+v", st)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st := r.Stats(); st.Spooled != 1000 || st.RejectedPoints != 0 {
		t.Errorf("after the stop: %+v", st)
	}

	if err := srv.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	r2 := start(t, cfg)
	waitFor(t, "the replay", func() bool { st := r2.Stats(); return st.Replayed == 1000 && st.SpoolPoints == 0 })
	s.check(t, srv, db)
}

// TestInfluxSpoolFull: with influxd down and a small spool, the oldest
// data is dropped, counted and logged with its time range; the newest is
// kept and written once influxd is back.
func TestInfluxSpoolFull(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "spool_full"
	cfg := influxConfig(srv, db)
	cfg.SpoolDir = t.TempDir()
	cfg.SpoolMaxBytes = 256 << 10
	cfg.BatchBytes = 16 << 10
	r := start(t, cfg)
	<-r.Connected()
	srv.Kill()
	const n, chunk = 20000, 200
	for from := 0; from < n; from += chunk {
		m := msg("obs.full", "f", nil, field("x"))
		for k := from; k < from+chunk; k++ {
			m.Blocks[0].Timestamps = append(m.Blocks[0].Timestamps, streamBase+float64(k))
			m.Blocks[0].Fields[0].Values = append(m.Blocks[0].Fields[0].Values, feeds.Int(int64(k)))
		}
		r.Enqueue(m)
		waitFor(t, "the spooler", func() bool { return r.Stats().PendingBytes < 64<<10 })
	}
	var st publisher.Stats
	waitFor(t, "the spooling", func() bool {
		st = r.Stats()
		return st.Spooled == n && st.SpoolDropped > 0 && int64(st.SpoolDropped)+st.SpoolPoints == n
	})
	if st.SpoolBytes > cfg.SpoolMaxBytes || st.Rejected[publisher.ReasonQueueFull] != 0 {
		t.Errorf("stats %+v", st)
	}
	first := time.Unix(int64(streamBase), 0).UTC().Format("2006-01-02T15:04:05.000Z")
	if l := r.logs.String(); !strings.Contains(l, "dropped the oldest spooled data") || !strings.Contains(l, "from="+first) {
		t.Errorf("drop of the oldest data not logged with its time range (from %s)", first)
	}

	if err := srv.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	kept := st.SpoolPoints
	waitFor(t, "the replay", func() bool { st := r.Stats(); return st.SpoolPoints == 0 && st.Replayed == uint64(kept) })
	rows := srv.Query(t, db, `SELECT min("x"), max("x"), count("x") FROM "obs.full"`)
	want := fmt.Sprint([]any{json.Number(strconv.FormatInt(n-kept, 10)), json.Number(strconv.Itoa(n - 1)), json.Number(strconv.FormatInt(kept, 10))})
	if len(rows) != 1 || fmt.Sprint(rows[0][1:]) != want {
		t.Errorf("stored min, max, count = %v, want the newest %d points: %v", rows, kept, want)
	}
}

// TestInfluxCorruptSpoolTail: a spool whose last record was torn by hand
// is opened with the corruption skipped and counted; the rest is replayed.
func TestInfluxCorruptSpoolTail(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "corrupt_tail"
	cfg := influxConfig(srv, db)
	cfg.SpoolDir = t.TempDir()
	r1 := start(t, cfg)
	<-r1.Connected()
	srv.Kill()
	s := newStream("obs.torn", 1)
	for i := range 5 {
		s.tick(t, r1, 100) // one batch each
		waitFor(t, "the spooling", func() bool { return r1.Stats().Spooled == uint64(100*(i+1)) })
	}
	if err := r1.stop(t); err != nil {
		t.Fatal(err)
	}
	// Tear the newest segment's last record (the probes of influxd while
	// it was down may have closed segments: the newest can hold one).
	segs, _ := filepath.Glob(filepath.Join(cfg.SpoolDir, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no segment")
	}
	newest := segs[len(segs)-1] // names sort by sequence
	data, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	starts := recordStarts(t, data)
	last := starts[len(starts)-1]
	if n := binary.LittleEndian.Uint32(data[last:]); int(n)+8 != len(data)-last {
		t.Fatalf("last record framing: %d", n)
	}
	if lines, _ := binary.Uvarint(data[last+8+25:]); lines != 100 {
		t.Fatalf("last record holds %d points, want the last batch of 100", lines)
	}
	if err := os.Truncate(newest, int64(last+100)); err != nil { // torn mid-record
		t.Fatal(err)
	}

	if err := srv.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	r2 := start(t, cfg)
	waitFor(t, "the replay", func() bool { st := r2.Stats(); return st.SpoolPoints == 0 && st.Replayed == 400 })
	if st := r2.Stats(); st.CorruptRecords != 1 {
		t.Errorf("corrupt records %d, want 1", st.CorruptRecords)
	}
	if !strings.Contains(r2.logs.String(), "skipped a corrupt or torn record") {
		t.Errorf("corruption not logged")
	}
	s.next[0] = 400 // the torn record held samples 400..499
	s.check(t, srv, db)
}
