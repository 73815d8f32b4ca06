package publisher_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// TestBatchBySize: batches hold at most BatchPoints points.
func TestBatchBySize(t *testing.T) {
	f := newFake(t, false)
	cfg := testConfig(f)
	cfg.BatchPoints = 10
	cfg.FlushInterval = time.Hour
	m := benchMessage(35, 3)
	var enc publisher.Encoder
	want, _ := enc.AppendMessage(nil, m)
	r := start(t, cfg)
	<-r.Connected()
	r.Enqueue(m)
	waitFor(t, "all points", func() bool { return r.Stats().Written == 35 })
	var sizes []int
	for _, w := range f.writeRequests() {
		sizes = append(sizes, strings.Count(w.Body, "\n"))
	}
	if len(sizes) != 4 || sizes[0] != 10 || sizes[1] != 10 || sizes[2] != 10 || sizes[3] != 5 {
		t.Errorf("batch sizes %v, want [10 10 10 5]", sizes)
	}
	if f.writtenBody() != string(want) {
		t.Errorf("data differs or out of order")
	}
}

// TestBatchByBytes: a batch is closed when it reaches BatchBytes.
func TestBatchByBytes(t *testing.T) {
	f := newFake(t, false)
	cfg := testConfig(f)
	cfg.BatchBytes = 1000
	cfg.FlushInterval = time.Hour
	m := benchMessage(40, 4)
	r := start(t, cfg)
	<-r.Connected()
	r.Enqueue(m)
	waitFor(t, "all points", func() bool { return r.Stats().Written == 40 })
	for _, w := range f.writeRequests() {
		lines := strings.SplitAfter(w.Body, "\n")
		last := lines[len(lines)-2]
		if len(w.Body)-len(last) >= 1000 {
			t.Errorf("batch of %d bytes continued past 1000 bytes", len(w.Body))
		}
	}
	if n := len(f.writeRequests()); n < 4 {
		t.Errorf("%d requests for %d bytes", n, len(f.writtenBody()))
	}
}

// TestFlushInterval: with no write in flight a lone point waits for
// BatchWait, or FlushInterval if that is shorter, and is not sent before
// (TestBatchWait checks that it is sent then).
func TestFlushInterval(t *testing.T) {
	for _, c := range []struct{ wait, flush time.Duration }{
		{300 * time.Millisecond, time.Hour},
		{time.Hour, 300 * time.Millisecond},
	} {
		f := newFake(t, false)
		cfg := testConfig(f)
		cfg.BatchWait, cfg.FlushInterval = c.wait, c.flush
		r := start(t, cfg)
		<-r.Connected()
		t0 := time.Now()
		r.Enqueue(msg("a", "f", []float64{1}, field("x", feeds.Int(1))))
		waitFor(t, "the write", func() bool { return r.Stats().Written == 1 })
		if gap := f.writeRequests()[0].At.Sub(t0); gap < 300*time.Millisecond {
			t.Errorf("BatchWait %v, FlushInterval %v: sent after %v, before 300ms", c.wait, c.flush, gap)
		}
	}
}

// TestSendAfterWrite: data that arrived during a write is sent as soon as
// that write completes, without waiting for the flush interval.
func TestSendAfterWrite(t *testing.T) {
	f := newFake(t, false)
	hold := make(chan struct{})
	f.script(func(n int, _ request) reply {
		if n == 0 {
			return reply{Hold: hold}
		}
		return reply{}
	}, nil)
	cfg := testConfig(f)
	cfg.FlushInterval = 10 * time.Millisecond
	r := start(t, cfg)
	<-r.Connected()
	r.Enqueue(msg("a", "f", []float64{1}, field("x", feeds.Int(1))))
	waitFor(t, "the first write", func() bool { return len(f.writeRequests()) == 1 })
	// The flush interval is now changed from the test's point of view by
	// enqueueing while the write is held: afterwards both points of the
	// second message must go in one request right after the first.
	r.Enqueue(msg("a", "f", []float64{2, 3}, field("x", feeds.Int(2), feeds.Int(3))))
	close(hold)
	waitFor(t, "the second write", func() bool { return r.Stats().Written == 3 })
	ws := f.writeRequests()
	if len(ws) != 2 || strings.Count(ws[1].Body, "\n") != 2 {
		t.Errorf("writes %+v", ws)
	}
}

// TestQueueFull: beyond MaxPendingBytes new points are dropped and
// counted, Enqueue says so, and the kept data is still written in order.
func TestQueueFull(t *testing.T) {
	f := newFake(t, false)
	hold := make(chan struct{})
	f.script(func(n int, _ request) reply {
		if n == 0 {
			return reply{Hold: hold}
		}
		return reply{}
	}, nil)
	cfg := testConfig(f)
	cfg.BatchBytes = 200
	cfg.MaxPendingBytes = 400
	r := start(t, cfg)
	<-r.Connected()
	accepted, refused := 0, 0
	for i := 0; i < 50; i++ {
		if r.Enqueue(msg("a", "f", []float64{float64(i)}, field("x", feeds.Int(int64(i))))) {
			accepted++
		} else {
			refused++
		}
	}
	if refused == 0 || accepted == 0 {
		t.Fatalf("accepted %d refused %d", accepted, refused)
	}
	st := r.Stats()
	if st.Rejected[publisher.ReasonQueueFull] != uint64(refused) || st.PendingBytes > 400+100 {
		t.Errorf("accepted %d refused %d stats %+v requests %+v", accepted, refused, st, f.requests())
	}
	close(hold)
	waitFor(t, "the kept points", func() bool { return r.Stats().Written == uint64(accepted) })
}

// TestStopBeforeConnected: a stop while InfluxDB does not answer ends Run
// at once with ErrNotConnected, even with a request in flight.
func TestStopBeforeConnected(t *testing.T) {
	f := newFake(t, false)
	hold := make(chan struct{})
	defer close(hold)
	f.script(nil, func(n int, _ request) reply {
		if n < 2 {
			return reply{Status: 500, Body: "not ready"}
		}
		return reply{Hold: hold}
	})
	cfg := testConfig(f)
	r := start(t, cfg)
	r.Enqueue(msg("a", "f", []float64{1}, field("x", feeds.Int(1))))
	waitFor(t, "the hanging query", func() bool { return len(f.requests()) >= 3 })
	if st := r.Stats(); st.Connected || !strings.Contains(st.Degraded, "not ready") {
		t.Errorf("stats while connecting %+v", st)
	}
	t0 := time.Now()
	err := r.stop(t)
	if !errors.Is(err, publisher.ErrNotConnected) {
		t.Errorf("Run = %v, want ErrNotConnected", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("stop took %v", d)
	}
	if st := r.Stats(); st.Rejected[publisher.ReasonStopped] != 1 {
		t.Errorf("stats %+v", st)
	}
	if r.Enqueue(msg("a", "f", []float64{2}, field("x", feeds.Int(2)))) {
		t.Errorf("Enqueue after Run returned was accepted")
	}
}

// TestFinalFlush: data pending at stop is written before Run returns.
func TestFinalFlush(t *testing.T) {
	f := newFake(t, false)
	cfg := testConfig(f)
	cfg.FlushInterval = time.Hour
	r := start(t, cfg)
	<-r.Connected()
	m, want := workedExample(t)
	r.Enqueue(m)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := f.writtenBody(); got != want {
		t.Errorf("flushed %q, want %q", got, want)
	}
}

// TestShutdownDeadline: when InfluxDB hangs, Run gives up StopTimeout
// after the stop, cancels the request and reports what was not written.
func TestShutdownDeadline(t *testing.T) {
	f := newFake(t, false)
	hold := make(chan struct{})
	defer close(hold)
	f.script(func(int, request) reply { return reply{Hold: hold} }, nil)
	cfg := testConfig(f)
	cfg.StopTimeout = 300 * time.Millisecond
	cfg.Timeout = time.Minute
	r := start(t, cfg)
	m, _ := workedExample(t)
	r.Enqueue(m)
	waitFor(t, "the hanging write", func() bool { return len(f.writeRequests()) == 1 })
	t0 := time.Now()
	err := r.stop(t)
	d := time.Since(t0)
	if !errors.Is(err, publisher.ErrUnflushed) {
		t.Errorf("Run = %v, want ErrUnflushed", err)
	}
	if d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("Run returned %v after the stop, want just after the 300ms stop timeout", d)
	}
	if st := r.Stats(); st.Rejected[publisher.ReasonStopped] != 3 || st.PendingPoints != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestRunTwice: Run may be called once.
func TestRunTwice(t *testing.T) {
	f := newFake(t, false)
	r := start(t, testConfig(f))
	<-r.Connected()
	if err := r.Run(context.Background()); err == nil {
		t.Errorf("second Run accepted")
	}
}
