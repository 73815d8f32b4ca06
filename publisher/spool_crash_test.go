package publisher_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/internal/influxtest"
	"github.com/ocsflux/ocsflux/internal/proc"
	"github.com/ocsflux/ocsflux/publisher"
)

// The crash child is this test binary run again (TestMain dispatches on
// envCrashChild): a publisher with a spool, fed one point every 2 ms,
// printing "<k> <unix ns>" for every point Enqueue accepted, until it is
// killed.
const (
	envCrashChild = "OCSFLUX_PUBLISHER_CRASH_CHILD"
	envCrashURL   = "OCSFLUX_PUBLISHER_CRASH_URL"
	envCrashDB    = "OCSFLUX_PUBLISHER_CRASH_DB"
	envCrashSpool = "OCSFLUX_PUBLISHER_CRASH_SPOOL"
	envCrashFlush = "OCSFLUX_PUBLISHER_CRASH_FLUSH"
	crashAgent    = "obs.crash"
)

// crashChild is the child's main; its result is the exit status.
func crashChild() int {
	flush, err := time.ParseDuration(os.Getenv(envCrashFlush))
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	cfg := publisher.DefaultConfig()
	cfg.URL = os.Getenv(envCrashURL)
	cfg.Database = os.Getenv(envCrashDB)
	cfg.SpoolDir = os.Getenv(envCrashSpool)
	cfg.FlushInterval = flush
	cfg.ConnectRetry = 50 * time.Millisecond
	cfg.RetryMin, cfg.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	cfg.Timeout = 2 * time.Second
	p, err := publisher.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	go func() { _ = p.Run(context.Background()) }() // runs until the process is killed
	select {
	case <-p.Connected():
	case <-time.After(30 * time.Second):
		fmt.Fprintln(os.Stderr, "crash child: not connected")
		return 2
	}
	_, _ = os.Stdout.WriteString("connected\n")
	tick := time.NewTicker(2 * time.Millisecond)
	for k, end := int64(0), time.Now().Add(2*time.Minute); time.Now().Before(end); k++ {
		<-tick.C
		m := &feeds.Message{
			Info: feeds.Info{AgentAddress: crashAgent, FeedName: "f", Record: true},
			Blocks: []feeds.Block{{Name: "b", Timestamps: []float64{streamBase + float64(k)*1e-3},
				Fields: []feeds.Field{{Name: "x", Values: []feeds.Value{feeds.Int(k)}}}}},
		}
		if p.Enqueue(m) {
			// os.Stdout is not buffered: what is printed is in the pipe.
			_, _ = fmt.Fprintf(os.Stdout, "%d %d\n", k, time.Now().UnixNano())
		}
	}
	return 3 // the parent should have killed it long before
}

// accepted is a point the child's Enqueue accepted, and when.
type accepted struct {
	k  int64
	at time.Time
}

// crashWindowSlack is added to the flush interval in the loss bound: the
// time the spooler may take to seal and append the batch after its flush
// interval, on a loaded machine.
const crashWindowSlack = 250 * time.Millisecond

// TestInfluxCrashLoss: kill -9 of a publisher while it is spooling (influxd
// down) loses at most the points accepted during the last flush interval;
// the rest is replayed by the next run. The bound is asserted.
func TestInfluxCrashLoss(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "crash"
	const flush = 500 * time.Millisecond
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashChild+"=1", envCrashURL+"="+srv.URL, envCrashDB+"="+db,
		envCrashSpool+"="+dir, envCrashFlush+"="+flush.String())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	childLog := &proc.Output{}
	cmd.Stderr = childLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	t.Cleanup(func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("child logs:\n%s", childLog.String())
		}
	})

	var mu sync.Mutex
	var acc []accepted
	connected, eof := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if line == "connected" {
				close(connected)
				continue
			}
			k, ns, ok := strings.Cut(line, " ")
			kv, err1 := strconv.ParseInt(k, 10, 64)
			nv, err2 := strconv.ParseInt(ns, 10, 64)
			if !ok || err1 != nil || err2 != nil {
				t.Errorf("child printed %q", line)
				continue
			}
			mu.Lock()
			acc = append(acc, accepted{kv, time.Unix(0, nv)})
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acc) }
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		t.Fatal("child not connected")
	}
	waitFor(t, "points written live", func() bool { return count() >= 300 })
	srv.Kill()
	downAt, before := time.Now(), count()
	waitFor(t, "a while of spooling", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
		return count() >= before+1000 && len(files) > 0
	})
	killAt := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-eof
	_ = cmd.Wait()
	waited = true
	mu.Lock()
	if last := acc[len(acc)-1].at; last.After(killAt) {
		killAt = last
	}
	mu.Unlock()

	// Restart: the next run replays the spool.
	if err := srv.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	cfg := influxConfig(srv, db)
	cfg.SpoolDir = dir
	r := start(t, cfg)
	waitFor(t, "the replay", func() bool { st := r.Stats(); return st.Replayed > 0 && st.SpoolPoints == 0 })
	st := r.Stats()
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	stored := map[int64]bool{}
	for _, row := range srv.Query(t, db, `SELECT "x" FROM "obs.crash"`) {
		k, err := strconv.ParseInt(fmt.Sprint(row[1]), 10, 64)
		if err != nil {
			t.Fatalf("row %v", row)
		}
		stored[k] = true
	}
	window := flush + crashWindowSlack
	var lost, inWindow, spooledKept int
	var oldestLost time.Duration
	for _, a := range acc {
		if !stored[a.k] {
			oldestLost = max(oldestLost, killAt.Sub(a.at))
		}
		recent := killAt.Sub(a.at) <= window
		if recent {
			inWindow++
		}
		switch {
		case !stored[a.k] && !recent:
			t.Errorf("point %d accepted %v before the kill is lost (bound: %v)", a.k, killAt.Sub(a.at).Round(time.Millisecond), window)
			lost++
		case !stored[a.k]:
			lost++
		case a.at.After(downAt):
			spooledKept++
		}
	}
	t.Logf("accepted %d points, %d while influxd was down; lost %d, the oldest accepted %v before the kill (bound %v, which holds %d points); replayed %d; corrupt tail records %d",
		len(acc), len(acc)-before, lost, oldestLost.Round(time.Millisecond), window, inWindow, st.Replayed, st.CorruptRecords)
	if spooledKept == 0 {
		t.Errorf("no point accepted while influxd was down was replayed")
	}
}
