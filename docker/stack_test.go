package docker_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/internal/influxtest"
)

// lockedBuffer collects a process's output for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// emulated runs one compose service of the ocsflux image the way docker
// would, without docker: the image's ENV (container paths mapped to
// temporary host directories), the service's environment and command, the
// image's WORKDIR as a fresh directory, and the container's hostname as
// --site-host for agents.
type emulated struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan error
}

// stackPaths maps the container paths the image and compose file use.
type stackPaths struct {
	bin       string // the ocsflux binary (/usr/local/bin/ocsflux)
	configDir string // what the service mounts at /config, rewritten for the test
}

// imageEnv is the runtime stage's ENV of docker/Dockerfile.
func imageEnv(t *testing.T) map[string]string {
	t.Helper()
	_, stages := parseDockerfile(t)
	env := map[string]string{}
	for _, in := range stages[len(stages)-1].Insts {
		if in.Cmd == "ENV" {
			keyValues(t, in, env)
		}
	}
	return env
}

// containerEnv is the environment a service's process sees.
func containerEnv(t *testing.T, svc composeService, p stackPaths, workdir string) []string {
	t.Helper()
	mounts := map[string]string{}
	for _, v := range svc.Volumes {
		if src, dst := bindSource(v); src != "" {
			mounts[dst] = src
		}
	}
	var env []string
	for k, v := range imageEnv(t) {
		switch {
		case k == "OCS_CONFIG_DIR" && v == "/config":
			if _, ok := mounts["/config"]; ok {
				v = p.configDir
			} else {
				v = t.TempDir() // an image directory with nothing mounted on it
			}
		case k == "HOME":
			v = workdir
		}
		env = append(env, k+"="+v)
	}
	for k, v := range svc.Environment {
		env = append(env, k+"="+v)
	}
	return env
}

// start launches a service; extra arguments follow the compose command.
func start(t *testing.T, name string, svc composeService, p stackPaths, args []string) *emulated {
	t.Helper()
	workdir := t.TempDir()
	e := &emulated{name: name, out: &lockedBuffer{}, done: make(chan error, 1)}
	e.cmd = exec.Command(p.bin, args...)
	e.cmd.Dir = workdir
	e.cmd.Env = containerEnv(t, svc, p, workdir)
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { e.done <- e.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-e.done:
		default:
			_ = e.cmd.Process.Kill()
			<-e.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, e.out.String())
		}
	})
	return e
}

// stop sends SIGTERM, as `docker stop` does, and requires exit status 0
// within compose's default 10 s grace period.
func (e *emulated) stop(t *testing.T) {
	t.Helper()
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("%s: SIGTERM: %v", e.name, err)
		return
	}
	select {
	case err := <-e.done:
		e.done <- err // for Cleanup
		if err != nil {
			t.Errorf("%s: after SIGTERM: %v, want exit status 0", e.name, err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("%s: still running 10 s after SIGTERM (docker would SIGKILL it)", e.name)
	}
}

// exited reports a process that ended early.
func (e *emulated) exited() error {
	select {
	case err := <-e.done:
		e.done <- err
		return fmt.Errorf("%s exited: %v\n%s", e.name, err, e.out.String())
	default:
		return nil
	}
}

// eventually polls cond every 200 ms until it returns nil or the deadline
// passes, and fails with the last error.
func eventually(t *testing.T, what string, timeout time.Duration, procs []*emulated, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		for _, p := range procs {
			if perr := p.exited(); perr != nil {
				t.Fatalf("waiting for %s: %v", what, perr)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-tick.C:
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago: the
// compose router listens on a fixed port, which the test must choose.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestComposeStackRuns runs docker-compose.yml's services with every
// profile (router, publisher, two FakeDataAgents) from the real ocsflux
// binary, emulating the containers, against a real influxd standing in for
// the influxdb container; the example site config is used with only its
// host names replaced by loopback addresses. It checks the publisher's
// compose healthcheck passes, that the demo data and the publisher's own
// statistics reach InfluxDB under the names the dashboards query, that the
// OCS feeds dashboard's queries return that data, and that every service
// exits 0 within docker's grace period on SIGTERM.
func TestComposeStackRuns(t *testing.T) {
	bin := buildOcsflux(t)
	srv := influxtest.Start(t)
	iu, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	routerPort := strconv.Itoa(freePort(t))

	// The site config as the containers would see it at /config, with the
	// docker network's names replaced by where things listen here.
	scf, err := os.ReadFile(filepath.Join(dockerDir(t), "config", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(scf)
	for _, r := range [][2]string{
		{"crossbar:8001", "127.0.0.1:" + routerPort},
		{"localhost:8001", "127.0.0.1:" + routerPort},
		{"[--host, influxdb]", "[--host, " + iu.Hostname() + "]"},
		{"[--port, 8086]", "[--port, " + iu.Port() + "]"},
	} {
		if !strings.Contains(text, r[0]) {
			t.Fatalf("config/default.yaml no longer contains %q; update this test", r[0])
		}
		text = strings.ReplaceAll(text, r[0], r[1])
	}
	paths := stackPaths{bin: bin, configDir: t.TempDir()}
	if err := os.WriteFile(filepath.Join(paths.configDir, "default.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	p := composeConfig(t, filepath.Join(dockerDir(t), "docker-compose.yml"), filepath.Join(dockerDir(t), "config"))
	svc := func(name string) composeService {
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("docker-compose.yml has no service %s", name)
		}
		return s
	}

	// The router, listening where the test can reach it instead of 0.0.0.0.
	rs := svc("crossbar")
	rargs := slices.Clone(rs.Command)
	i := slices.Index(rargs, "--listen")
	if i < 0 || i+1 >= len(rargs) {
		t.Fatalf("crossbar command %q has no --listen ADDRESS", rargs)
	}
	rargs[i+1] = "127.0.0.1:" + routerPort
	router := start(t, "crossbar", rs, paths, rargs)
	procs := []*emulated{router}
	eventually(t, "router /info answers 200", 20*time.Second, procs, func() error {
		resp, err := http.Get("http://127.0.0.1:" + routerPort + "/info")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	})

	var agents []*emulated
	for _, name := range []string{"ocs-influxagent", "ocs-fake-data1", "ocs-fake-data2"} {
		s := svc(name)
		args := append(slices.Clone(s.Command), "--site-host", s.Hostname) // the container's hostname
		a := start(t, name, s, paths, args)
		agents = append(agents, a)
		procs = append(procs, a)
	}

	// The publisher's compose healthcheck, run as docker would run it in
	// that container.
	pub := svc("ocs-influxagent")
	if pub.Healthcheck == nil || len(pub.Healthcheck.Test) < 2 || pub.Healthcheck.Test[0] != "CMD" ||
		pub.Healthcheck.Test[1] != "ocsflux" {
		t.Fatalf("ocs-influxagent healthcheck %+v, want [CMD ocsflux ...]", pub.Healthcheck)
	}
	var lastCheck string
	eventually(t, "ocs-influxagent healthcheck passes", 60*time.Second, procs, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		hc := exec.CommandContext(ctx, bin, pub.Healthcheck.Test[2:]...)
		hc.Dir = t.TempDir()
		hc.Env = containerEnv(t, pub, paths, hc.Dir)
		out, err := hc.CombinedOutput()
		lastCheck = string(out)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	// Degraded for a few seconds (InfluxDB not connected yet) still passes.
	if !strings.HasPrefix(lastCheck, "record is running") {
		t.Errorf("healthcheck output %q, want the verdict record is running", lastCheck)
	}

	// The demo data reaches InfluxDB, and so do the publisher's statistics.
	const db = "ocs_feeds"
	eventually(t, "demo data in InfluxDB", 60*time.Second, procs, func() error {
		for _, m := range []string{"observatory.fake-data1", "observatory.fake-data2"} {
			rows, err := srv.QueryRowsErr(t.Context(), db,
				fmt.Sprintf(`SELECT count(*) FROM %q WHERE "feed" = 'false_temperatures'`, m))
			if err != nil {
				return err
			}
			if len(rows) == 0 || len(rows[0].Values) == 0 {
				return fmt.Errorf("no points of %s yet", m)
			}
		}
		return nil
	})
	statsFields := []string{
		"points_received", "points_written", "points_rejected", "points_dropped", "points_pending",
		"batches_written", "write_errors", "last_write_latency_s", "bytes_sent", "spool_bytes",
		"spool_segments", "spool_oldest_s", "dead_lettered", "events_dropped",
	}
	eventually(t, "ocsflux_stats feed in InfluxDB with every field the health dashboard reads", 60*time.Second, procs,
		func() error {
			rows, err := srv.QueryRowsErr(t.Context(), db,
				`SHOW FIELD KEYS FROM "observatory.influxagent"`)
			if err != nil {
				return err
			}
			var have []string
			for _, r := range rows {
				for _, v := range r.Values {
					have = append(have, v[0].(string))
				}
			}
			for _, f := range statsFields {
				if !slices.Contains(have, f) {
					return fmt.Errorf("measurement observatory.influxagent has fields %q, lacks %s", have, f)
				}
			}
			tags, err := srv.QueryRowsErr(t.Context(), db,
				`SHOW TAG VALUES FROM "observatory.influxagent" WITH KEY = "feed"`)
			if err != nil {
				return err
			}
			if !slices.Contains(variableValues("show tag values", tags), "ocsflux_stats") {
				return fmt.Errorf("observatory.influxagent has no feed=ocsflux_stats series")
			}
			return nil
		})

	// The OCS feeds dashboard shows what ocsflux wrote.
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Minute)
	for _, d := range loadDashboards(t) {
		if d.JSON["uid"] != "ocs-feeds" {
			continue
		}
		allValues := map[string]string{}
		for _, v := range variables(d.JSON) {
			if av, ok := v["allValue"].(string); ok {
				allValues[v["name"].(string)] = av
			}
		}
		vars := map[string]varValue{
			"agent": many("observatory.fake-data1", "observatory.fake-data2"),
			"feed":  allOf(), "field": allOf(),
		}
		for _, q := range queries(t, d) {
			iq := interpolate(t, q.Query, vars, allValues, from, to)
			rows, err := srv.QueryRowsErr(t.Context(), db, iq)
			if err != nil {
				t.Errorf("%s: %s\nInfluxDB: %v", q.Where, iq, err)
				continue
			}
			if q.Var == "" {
				checkRows(t, iq, rows)
			} else if len(variableValues(iq, rows)) == 0 {
				t.Errorf("%s: %s\nlists nothing", q.Where, iq)
			}
		}
	}
	if t.Failed() {
		return
	}

	// docker stop: agents, then the router.
	for _, a := range agents {
		a.stop(t)
	}
	router.stop(t)
}
