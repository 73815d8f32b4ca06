package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/internal/influxtest"
	"github.com/ocsflux/ocsflux/internal/loadgen"
)

// buildBenchBinary builds this command into a temporary directory: the
// publisher that `bench --spawn` runs as a child process (the test binary
// itself is not ocsflux).
func buildBenchBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ocsflux")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBenchSpawn runs `ocsflux bench --spawn` as a newcomer would, with
// nothing running: it starts a throwaway influxd (nothing answers at
// --influx-url), an embedded router and the built ocsflux binary as the
// publisher (a child process, whose CPU and RSS it measures), runs two
// short steps and prints JSON. At such low rates every point must arrive.
func TestBenchSpawn(t *testing.T) {
	bin := buildBenchBinary(t)
	r := runMain(t, nil, "", "bench", "--spawn", "--publisher-binary", bin, "--influx-url", closedURL(t),
		"--rates", "200,1000", "--step-duration", "1s", "--agents", "2", "--json",
		"--publisher-arg=--flush-interval=100ms")
	if r.code != 0 {
		t.Fatalf("bench exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var rep loadgen.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not one JSON report: %v\n%s", err, r.stdout)
	}
	if len(rep.Steps) != 2 {
		t.Fatalf("%d steps, want 2:\n%s", len(rep.Steps), r.stdout)
	}
	sp := rep.Params.Spawned
	if sp == nil || !sp.InfluxThrowaway || sp.PublisherPID <= 0 || rep.Params.PublisherPID == nil ||
		*rep.Params.PublisherPID != sp.PublisherPID || strings.Join(sp.PublisherArgs, " ") != "--flush-interval=100ms" {
		t.Fatalf("spawned: %+v, params pid %v", sp, rep.Params.PublisherPID)
	}
	for i, st := range rep.Steps {
		if st.PointsPublished <= 0 || st.PointsFound != st.PointsPublished {
			t.Errorf("step %d: published %d, found %d; want all found", i+1, st.PointsPublished, st.PointsFound)
		}
		l := st.Latency
		if l.P50MS == nil || l.P99MS == nil || l.MaxMS == nil || !(*l.P50MS > 0 && *l.P50MS <= *l.P99MS && *l.P99MS <= *l.MaxMS) {
			t.Errorf("step %d: latency %+v: want 0 < p50 <= p99 <= max", i+1, l)
		}
		if st.CPUPercent == nil || st.CPUUsPerPoint == nil || st.RSSMaxMiB == nil || *st.RSSMaxMiB < 1 {
			t.Errorf("step %d: the child's CPU/RSS not measured: %v %v %v (notes %v)",
				i+1, st.CPUPercent, st.CPUUsPerPoint, st.RSSMaxMiB, st.Notes)
		}
		if st.RouterDroppedEvents == nil || *st.RouterDroppedEvents != 0 {
			t.Errorf("step %d: router dropped events %v, want 0", i+1, st.RouterDroppedEvents)
		}
	}
	for _, want := range []string{"throwaway influxd", "(embedded)", "publisher " + bin} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// The child was stopped and reaped before bench returned.
	if err := syscall.Kill(sp.PublisherPID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the spawned publisher pid %d still exists after bench returned (kill 0: %v)", sp.PublisherPID, err)
	}
}

// TestBenchSetupFailure: an unreachable InfluxDB or router is exit
// status 1 with a message naming it, and no report.
func TestBenchSetupFailure(t *testing.T) {
	srv := influxtest.Start(t)
	closed := closedURL(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--influx-url", closed}, "InfluxDB at " + closed + " does not answer"},
		{[]string{"--influx-url", srv.URL, "--router", strings.Replace(closed, "http", "ws", 1) + "/ws"}, "connect to router ws://"},
	} {
		args := append([]string{"bench", "--rates", "100", "--step-duration", "1s"}, c.args...)
		r := runMain(t, nil, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("%v: exit %d, want 1 with %q on stderr and nothing on stdout\nstdout: %s\nstderr: %s",
				c.args, r.code, c.want, r.stdout, r.stderr)
		}
	}
}

func TestBenchUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--agents", "0"}, "--agents 0"},
		{[]string{"--samples", "0"}, "--samples 0"},
		{[]string{"--fields", "0"}, "--fields 0"},
		{[]string{"--rates=0"}, "--rates 0"},
		{[]string{"--rates=1000,-5"}, "--rates -5"},
		{[]string{"--rates", "abc"}, "--rates"},
		{[]string{"--rates", "5", "--step-duration", "1s"}, "not one message is due"},
		{[]string{"--step-duration", "0s"}, "--step-duration"},
		{[]string{"--settle=-1s"}, "--settle"},
		{[]string{"--poll", "0s"}, "--poll"},
		{[]string{"--warmup", "0s"}, "--warmup"},
		{[]string{"--publisher-pid=-3"}, "--publisher-pid"},
		{[]string{"--influx-url", "ftp://x"}, "--influx-url"},
		{[]string{"--router", "http://x:1/ws"}, "--router"},
		{[]string{"--spawn", "--router", "ws://x:1/ws"}, "--router: not with --spawn"},
		{[]string{"--spawn", "--publisher-pid", "5"}, "--publisher-pid: not with --spawn"},
		{[]string{"--publisher-arg=--gzip"}, "--publisher-arg: only with --spawn"},
		{[]string{"--publisher-binary", "/bin/true"}, "--publisher-binary: only with --spawn"},
	} {
		r := runMain(t, nil, "", append([]string{"bench"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, want 2 with %q\nstderr: %s", c.args, r.code, c.want, r.stderr)
		}
	}
}

// TestBenchHelp: the help states the defaults and the latency method.
func TestBenchHelp(t *testing.T) {
	r := runMain(t, nil, "", "bench", "--help")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	help := strings.Join(strings.Fields(r.stdout), " ") // undo the wrapping
	for _, want := range []string{"Default: 8.", "Default: 1000,5000,20000,50000.", "Default: 20ms.",
		"Default: 10s.", "newest timestamp per agent", "upper bounds", "--spawn", "INFLUXDB_USERNAME"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
