package publisher_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// switchable is a fake InfluxDB that refuses writes with 503 while down
// and records the lines it stored.
type switchable struct {
	*fakeInflux
	mu     sync.Mutex
	down   bool
	stored []string
	// maxLines, if set, makes bodies with more lines answer 413.
	maxLines int
}

func newSwitchable(t *testing.T, down bool) *switchable {
	s := &switchable{fakeInflux: newFake(t, false), down: down}
	s.script(func(_ int, r request) reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			return reply{Status: 503, Body: "engine: cache maximum memory size exceeded"}
		}
		lines := bodyLines(r.Body)
		if s.maxLines > 0 && len(lines) > s.maxLines {
			return reply{Status: 413, Body: "http: request body too large"}
		}
		s.stored = append(s.stored, lines...)
		return reply{}
	}, nil)
	return s
}

func (s *switchable) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func (s *switchable) storedLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.stored)
}

func bodyLines(body string) []string {
	var out []string
	for _, l := range strings.SplitAfter(body, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// spoolConfig is testConfig with a spool in a new directory.
func spoolConfig(t *testing.T, f *fakeInflux) publisher.Config {
	cfg := testConfig(f)
	cfg.SpoolDir = t.TempDir()
	return cfg
}

// intPoints enqueues points x=i at time i s for i in [from, from+n), one
// message each, and returns their lines as the encoder writes them.
func intPoints(t *testing.T, r *running, from, n int) []string {
	t.Helper()
	var want []string
	for i := from; i < from+n; i++ {
		m := msg("obs.a", "f", []float64{float64(i)}, field("x", feeds.Int(int64(i))))
		var enc publisher.Encoder
		b, _ := enc.AppendMessage(nil, m)
		want = append(want, string(b))
		if !r.Enqueue(m) {
			t.Fatalf("Enqueue %d refused", i)
		}
	}
	return want
}

// sameLines compares line multisets.
func sameLines(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// TestSpoolOutage: while InfluxDB refuses writes, the data goes to the
// spool, not memory; once it accepts them again the spool is replayed:
// every line stored exactly once, the spool files deleted.
func TestSpoolOutage(t *testing.T) {
	f := newSwitchable(t, false)
	cfg := spoolConfig(t, f.fakeInflux)
	r := start(t, cfg)
	<-r.Connected()
	f.setDown(true)
	want := intPoints(t, r, 0, 100)
	waitFor(t, "the spooling", func() bool { st := r.Stats(); return st.Spooled == 100 && st.SpoolPoints == 100 })
	st := r.Stats()
	if st.Connected || !strings.Contains(st.Degraded, "HTTP 503") || st.PendingPoints != 0 || st.SpoolBytes == 0 ||
		st.SpoolSegments == 0 || st.SpoolOldest != time.Unix(0, 0) || st.SpoolSince.IsZero() {
		t.Errorf("while down: %+v", st)
	}
	if st.Feeds[0].Spooled != 100 || st.Feeds[0].Written != 0 {
		t.Errorf("feed stats %+v", st.Feeds)
	}
	f.setDown(false)
	waitFor(t, "the replay", func() bool { st := r.Stats(); return st.Replayed == 100 && st.SpoolPoints == 0 })
	if got := f.storedLines(); len(got) != 100 || !sameLines(got, want) {
		t.Errorf("stored %d lines, want the 100 sent, once each", len(got))
	}
	st = r.Stats()
	if !st.Connected || st.Degraded != "" || st.SpoolBytes != 0 || st.SpoolSegments != 0 || st.RejectedPoints != 0 {
		t.Errorf("after replay: %+v", st)
	}
	if files, _ := filepath.Glob(filepath.Join(cfg.SpoolDir, "*.seg")); len(files) != 0 {
		t.Errorf("segments left: %v", files)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestSpoolReplayAfterRestart: data spooled by one run (stopped while
// InfluxDB refused writes) is replayed by the next.
func TestSpoolReplayAfterRestart(t *testing.T) {
	f := newSwitchable(t, true)
	cfg := spoolConfig(t, f.fakeInflux)
	r1 := start(t, cfg)
	want := intPoints(t, r1, 0, 50)
	waitFor(t, "the spooling", func() bool { return r1.Stats().Spooled == 50 })
	if err := r1.stop(t); err != nil {
		t.Fatalf("first run: %v", err)
	}

	f.setDown(false)
	r2 := start(t, cfg)
	waitFor(t, "the replay", func() bool { st := r2.Stats(); return st.Replayed == 50 && st.SpoolPoints == 0 })
	if got := f.storedLines(); !sameLines(got, want) {
		t.Errorf("stored %q", got)
	}
	if !strings.Contains(r2.logs.String(), "spool holds data from an earlier run") {
		t.Errorf("no log of the spooled data found at start:\n%s", r2.logs.String())
	}
}

// TestSpoolAtStop: a stop while InfluxDB refuses writes spools what is in
// memory at once (without waiting for StopTimeout); Run returns nil.
func TestSpoolAtStop(t *testing.T) {
	f := newSwitchable(t, false)
	cfg := spoolConfig(t, f.fakeInflux)
	cfg.FlushInterval = time.Hour
	cfg.StopTimeout = 20 * time.Second
	r := start(t, cfg)
	<-r.Connected()
	f.setDown(true)
	want := intPoints(t, r, 0, 30)
	t0 := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("stop took %v: it waited for the stop timeout instead of spooling", d)
	}
	if st := r.Stats(); st.Spooled != 30 || st.Rejected[publisher.ReasonStopped] != 0 || st.PendingPoints != 0 {
		t.Errorf("stats %+v", st)
	}
	if got := spooledLines(t, cfg.SpoolDir); !sameLines(got, want) {
		t.Errorf("spool holds %q", got)
	}
}

// spooledLines opens a spool and returns every line in it.
func spooledLines(t *testing.T, dir string) []string {
	t.Helper()
	s, err := publisher.OpenSpool(publisher.SpoolConfig{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []string
	for {
		var b publisher.SpoolBatch
		ok, err := s.Next(&b, 1<<20, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, splitLines(b)...)
	}
}

// TestSpoolAtStopDeadline: when InfluxDB hangs, the request is cancelled
// at StopTimeout and the batch spooled.
func TestSpoolAtStopDeadline(t *testing.T) {
	f := newFake(t, false)
	hold := make(chan struct{})
	defer close(hold)
	f.script(func(int, request) reply { return reply{Hold: hold} }, nil)
	cfg := spoolConfig(t, f)
	cfg.StopTimeout = 300 * time.Millisecond
	cfg.Timeout = time.Minute
	r := start(t, cfg)
	m, want := workedExample(t)
	r.Enqueue(m)
	waitFor(t, "the hanging write", func() bool { return len(f.writeRequests()) == 1 })
	t0 := time.Now()
	err := r.stop(t)
	d := time.Since(t0)
	if err != nil {
		t.Errorf("Run = %v, want nil (spooled)", err)
	}
	if d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("Run returned %v after the stop, want just after the 300ms stop timeout", d)
	}
	if st := r.Stats(); st.Spooled != 3 || st.Rejected[publisher.ReasonStopped] != 0 {
		t.Errorf("stats %+v", st)
	}
	if got := strings.Join(spooledLines(t, cfg.SpoolDir), ""); got != want {
		t.Errorf("spooled %q, want %q", got, want)
	}
}

// TestSpoolSlowWrite: while a write hangs for longer than FlushInterval,
// newer data is spooled instead of waiting in memory.
func TestSpoolSlowWrite(t *testing.T) {
	f := newFake(t, false)
	hold := make(chan struct{})
	f.script(func(n int, _ request) reply {
		if n == 0 {
			return reply{Hold: hold}
		}
		return reply{}
	}, nil)
	cfg := spoolConfig(t, f)
	cfg.FlushInterval = 50 * time.Millisecond
	cfg.Timeout = time.Minute
	r := start(t, cfg)
	<-r.Connected()
	intPoints(t, r, 0, 1)
	waitFor(t, "the hanging write", func() bool { return len(f.writeRequests()) == 1 })
	intPoints(t, r, 1, 20)
	waitFor(t, "the spooling", func() bool { return r.Stats().Spooled == 20 })
	close(hold)
	waitFor(t, "everything", func() bool { st := r.Stats(); return st.Written == 1 && st.Replayed == 20 })
}

// TestSpoolHighWater: when InfluxDB is slower than the data, batches
// beyond half of MaxPendingBytes go to the spool; nothing is dropped.
func TestSpoolHighWater(t *testing.T) {
	f := newSwitchable(t, false)
	hold := make(chan struct{})
	f.script(func(n int, r request) reply {
		if n == 0 {
			return reply{Hold: hold}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.stored = append(f.stored, bodyLines(r.Body)...)
		return reply{}
	}, nil)
	cfg := spoolConfig(t, f.fakeInflux)
	cfg.BatchBytes = 1000
	cfg.MaxPendingBytes = 8000
	cfg.FlushInterval = time.Hour
	cfg.Timeout = time.Minute
	r := start(t, cfg)
	<-r.Connected()
	want := intPoints(t, r, 0, 40) // the first batch is held
	waitFor(t, "the hanging write", func() bool { return len(f.writeRequests()) == 1 })
	// Feed at the pace the spooler keeps up with (a real feed has a rate;
	// a tight loop can outrun any disk).
	for i := 40; i < 440; i += 20 {
		want = append(want, intPoints(t, r, i, 20)...)
		waitFor(t, "the spooler", func() bool { return r.Stats().PendingBytes <= 4000+2*cfg.BatchBytes })
	}
	if st := r.Stats(); st.Spooled == 0 || st.Rejected[publisher.ReasonQueueFull] != 0 {
		t.Errorf("stats %+v", st)
	}
	close(hold)
	waitFor(t, "everything", func() bool {
		st := r.Stats()
		return st.Written+st.Replayed == 440 && st.SpoolPoints == 0 && st.PendingPoints == 0
	})
	held := bodyLines(f.writeRequests()[0].Body)
	if got := append(f.storedLines(), held...); !sameLines(got, want) {
		t.Errorf("stored %d lines, want the 440 sent once each", len(got))
	}
}

// TestReplayBandwidth: replayed requests are spaced so that the replay
// stays under ReplayBytesPerSecond.
func TestReplayBandwidth(t *testing.T) {
	f := newSwitchable(t, false)
	cfg := spoolConfig(t, f.fakeInflux)
	cfg.ReplayBytesPerSecond = 100 << 10
	cfg.BatchPoints = 300
	prefill(t, cfg.SpoolDir, 40, 100)
	r := start(t, cfg)
	waitFor(t, "the replay", func() bool { st := r.Stats(); return st.Replayed == 4000 && st.SpoolPoints == 0 })
	ws := f.writeRequests()
	if len(ws) < 10 {
		t.Fatalf("%d requests, want batches of at most 300 points", len(ws))
	}
	const tolerance = 20 * time.Millisecond
	for i := 1; i < len(ws); i++ {
		min := time.Duration(float64(len(ws[i-1].Body)) / float64(cfg.ReplayBytesPerSecond) * float64(time.Second))
		if gap := ws[i].At.Sub(ws[i-1].At); gap < min-tolerance {
			t.Errorf("request %d came %v after %d bytes, want at least %v", i, gap, len(ws[i-1].Body), min)
		}
	}
	if got := f.storedLines(); len(got) != 4000 {
		t.Errorf("stored %d lines", len(got))
	}
	if st := r.Stats(); st.ReplayRate <= 0 {
		t.Errorf("replay rate %v", st.ReplayRate)
	}
}

// prefill writes batches of per lines (measurement m) to a spool.
func prefill(t *testing.T, dir string, batches, per int) []string {
	t.Helper()
	s, err := publisher.OpenSpool(publisher.SpoolConfig{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := 0; i < batches; i++ {
		b := spoolBatch("m", i*per, per)
		lines = append(lines, splitLines(b)...)
		if err := s.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestLiveDuringReplay: live data is written while a long replay is in
// progress, not after it.
func TestLiveDuringReplay(t *testing.T) {
	f := newSwitchable(t, false)
	cfg := spoolConfig(t, f.fakeInflux)
	cfg.ReplayBytesPerSecond = 50 << 10
	cfg.BatchPoints = 200
	prefill(t, cfg.SpoolDir, 20, 100) // over a second of replay
	r := start(t, cfg)
	waitFor(t, "the replay", func() bool { return r.Stats().Replayed > 0 })
	live := intPoints(t, r, 0, 5)
	waitFor(t, "the live data", func() bool { return r.Stats().Written == 5 })
	if st := r.Stats(); st.SpoolPoints == 0 {
		t.Errorf("the replay ended before the live data was written: %+v", st)
	}
	waitFor(t, "the replay", func() bool { return r.Stats().SpoolPoints == 0 })
	if got := f.storedLines(); len(got) != 2005 || !slices.Contains(got, live[4]) {
		t.Errorf("stored %d lines", len(got))
	}
}

// TestReplaySplit413: a replayed request refused as too large is split
// until accepted; nothing is lost or stored twice.
func TestReplaySplit413(t *testing.T) {
	f := newSwitchable(t, false)
	f.maxLines = 7
	cfg := spoolConfig(t, f.fakeInflux)
	want := prefill(t, cfg.SpoolDir, 4, 10)
	r := start(t, cfg)
	waitFor(t, "the replay", func() bool { st := r.Stats(); return st.Replayed == 40 && st.SpoolPoints == 0 })
	if got := f.storedLines(); len(got) != 40 || !sameLines(got, want) {
		t.Errorf("stored %d lines, want the 40 spooled once each", len(got))
	}
	if st := r.Stats(); st.DeadLettered != 0 || st.RejectedPoints != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestSpoolUnwritable: when the spool cannot be written, the data is kept
// in memory (as without a spool) and written once InfluxDB is back.
func TestSpoolUnwritable(t *testing.T) {
	f := newSwitchable(t, false)
	cfg := spoolConfig(t, f.fakeInflux)
	// The first segment's name is taken by a directory: creating it fails.
	if err := os.Mkdir(filepath.Join(cfg.SpoolDir, fmt.Sprintf("%020d.seg", 1)), 0o700); err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg)
	<-r.Connected()
	f.setDown(true)
	want := intPoints(t, r, 0, 10)
	waitFor(t, "the spool error", func() bool { return r.Stats().SpoolError != "" })
	if st := r.Stats(); st.PendingPoints != 10 || st.Spooled != 0 {
		t.Errorf("stats %+v", st)
	}
	f.setDown(false)
	waitFor(t, "the write", func() bool { return r.Stats().Written == 10 })
	if got := f.storedLines(); !sameLines(got, want) {
		t.Errorf("stored %q", got)
	}
	if !strings.Contains(r.logs.String(), "cannot write the spool") {
		t.Errorf("not logged:\n%s", r.logs.String())
	}
}

// TestSpoolDirLocked: a second publisher on the same spool directory
// fails to run, naming the directory.
func TestSpoolDirLocked(t *testing.T) {
	f := newSwitchable(t, false)
	cfg := spoolConfig(t, f.fakeInflux)
	r := start(t, cfg)
	<-r.Connected()
	p2, err := publisher.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = p2.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), cfg.SpoolDir) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Run = %v", err)
	}
}

// TestSpoolLog: while data waits in the spool, a log line says every
// SpoolLogInterval how much and since when.
func TestSpoolLog(t *testing.T) {
	f := newSwitchable(t, false)
	cfg := spoolConfig(t, f.fakeInflux)
	cfg.SpoolLogInterval = 50 * time.Millisecond
	r := start(t, cfg)
	<-r.Connected()
	f.setDown(true)
	intPoints(t, r, 0, 10)
	waitFor(t, "the spool log", func() bool {
		l := r.logs.String()
		return strings.Contains(l, "data is waiting in the spool") && strings.Contains(l, "points=10 ") &&
			strings.Contains(l, "spooled_since=") && strings.Contains(l, "oldest_point=1970-01-01T00:00:00.000Z") &&
			strings.Contains(l, "HTTP 503")
	})
}
