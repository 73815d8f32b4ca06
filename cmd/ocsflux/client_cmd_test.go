package main

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/agents/client"
	"github.com/ocsflux/ocsflux/agents/client/clienttest"
	"github.com/ocsflux/ocsflux/agents/router"
	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

// startTestRouter runs an in-process router with a fake InfluxDBAgent,
// observatory.influxagent.
func startTestRouter(t *testing.T) *router.Router {
	t.Helper()
	r, _ := startTestAgent(t)
	return r
}

// startTestAgent is startTestRouter, returning the fake agent too.
func startTestAgent(t *testing.T) (*router.Router, *clienttest.FakeAgent) {
	t.Helper()
	r, err := router.New(router.Config{Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("router: %v", err)
		}
	})
	select {
	case <-r.Ready():
	case err := <-errc:
		t.Fatalf("router: %v", err)
	}
	return r, clienttest.Start(t, r.WSURL(), "observatory", "influxagent")
}

// durationRE matches the elapsed times in OCSReply text.
func durationRE() *regexp.Regexp {
	return regexp.MustCompile(`-?\d+\.\d+ (s|mins|hrs|days)`)
}

func TestClientCmdOps(t *testing.T) {
	for _, transport := range []string{"http", "wamp"} {
		r := startTestRouter(t)
		via := []string{"--site-http", r.CallURL()}
		if transport == "wamp" {
			via = []string{"--site-hub", r.WSURL()}
		}
		cmd := func(args ...string) []string { return append(append([]string{"client"}, via...), args...) }
		steps := []struct {
			args []string
			code int
			out  string
		}{
			{cmd("influxagent", "status", "record"), exitOK,
				"OCSReply: OK : No session active.\n  (no session -- op has never run)\n"},
			{cmd("influxagent", "start", "record", "test_mode=yes"), exitError,
				"OCSReply: ERROR : Param 'test_mode'=yes is not of required type (<class 'bool'>)\n  (no session -- op has never run)\n"},
			{cmd("influxagent", "start", "record", "test_mode=false"), exitOK,
				"OCSReply: OK : Started process \"record\".\n" +
					"  record[session=0]; status=starting for T\n" +
					"  messages (1 of 1):\n" +
					"    1795294584.986 Status is now \"starting\".\n" +
					"  other keys in .session: op_code=2, cred_level=1, degraded=false\n"},
			{cmd("influxagent", "wait", "record", "--timeout", "0"), exitError,
				"OCSReply: TIMEOUT : Operation \"record\" still running; wait timed out.\n" +
					"  record[session=0]; status=running for T\n" +
					"  messages (2 of 2):\n" +
					"    1795294584.986 Status is now \"starting\".\n" +
					"    1795294584.987 Status is now \"running\".\n" +
					"  data: {\"connected\":true,\"last_updated\":1795294585.9863648}\n" +
					"  other keys in .session: op_code=3, cred_level=1, degraded=false\n"},
			{cmd("influxagent", "wait", "record", "--timeout=-1"), exitError, ""},
			{cmd("influxagent", "wait", "--timeout=2.5", "record"), exitError, ""},
			{cmd("influxagent", "stop", "record"), exitOK, ""},
			{cmd("influxagent", "wait", "record"), exitOK,
				"OCSReply: OK : Operation \"record\" is currently not running (SUCCEEDED).\n" +
					"  record[session=0]; status=done without error T ago, took T\n" +
					"  messages (5 of 5):\n" +
					"    1795294584.986 Status is now \"starting\".\n" +
					"    1795294584.987 Status is now \"running\".\n" +
					"    1795294586.986 Status is now \"stopping\".\n" +
					"    1795294587.986 Aggregation has ended\n" +
					"    1795294588.986 Status is now \"done\".\n" +
					"  data: {\"connected\":true,\"last_updated\":1795294585.9863648}\n" +
					"  other keys in .session: op_code=5, cred_level=1, degraded=false\n"},
			{cmd("influxagent", "abort", "record"), exitError,
				"OCSReply: ERROR : Cannot \"abort\" \"record\" because it is a \"{op_type}\".\n  (no session -- op has never run)\n"},
		}
		for _, s := range steps {
			res := runArgs(t, cmdEnv{}, s.args...)
			if res.code != s.code {
				t.Errorf("%q: exit %d, want %d\n%s%s", s.args, res.code, s.code, res.stdout, res.stderr)
			}
			out := durationRE().ReplaceAllString(res.stdout, "T")
			if s.out != "" && out != s.out {
				t.Errorf("%q: output\n%s\nwant\n%s", s.args, out, s.out)
			}
			if s.code == exitError && !strings.Contains(res.stderr, "ocsflux: reply ") {
				t.Errorf("%q: stderr %q", s.args, res.stderr)
			}
		}
	}
}

func TestClientCmdJSON(t *testing.T) {
	r := startTestRouter(t)
	res := runArgs(t, cmdEnv{}, "client", "--site-http", r.CallURL(), "--json", "influxagent", "start", "record")
	if res.code != exitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	v, err := wampjson.Unmarshal([]byte(res.stdout))
	if err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, res.stdout)
	}
	m := v.(map[string]any)
	sess := m["session"].(map[string]any)
	if m["status"] != int64(0) || m["msg"] != `Started process "record".` || sess["session_id"] != int64(0) || sess["start_time"] != 1795294584.9863648 {
		t.Errorf("--json reply %s", res.stdout)
	}

	res = runArgs(t, cmdEnv{}, "client", "--site-http", r.CallURL(), "--json", "influxagent", "api")
	api, err := wampjson.Unmarshal([]byte(res.stdout))
	if res.code != exitOK || err != nil || api.(map[string]any)["agent_class"] != "InfluxDBAgent" {
		t.Errorf("--json api: exit %d, %v\n%s", res.code, err, res.stdout)
	}

	// A failed call: the error triple on stdout, exit 1.
	res = runArgs(t, cmdEnv{}, "client", "--site-http", r.CallURL(), "--json", "nobody", "status", "record")
	want := "{\n  \"args\": [\n    \"no callee registered for procedure <observatory.nobody.ops>\"\n  ],\n  \"error\": \"wamp.error.no_such_procedure\",\n  \"kwargs\": {}\n}\n"
	if res.code != exitError || res.stdout != want {
		t.Errorf("--json failure: exit %d\n%s\nwant\n%s", res.code, res.stdout, want)
	}
}

func TestClientCmdAPI(t *testing.T) {
	r := startTestRouter(t)
	res := runArgs(t, cmdEnv{}, "client", "--site-hub", r.WSURL(), "influxagent", "api")
	want := "observatory.influxagent: InfluxDBAgent on ocs-docker (pid 7)\n" +
		"processes:\n  record  no_history\n" +
		"tasks:\n  (none)\n" +
		"feeds:\n  heartbeat  record=false\n" +
		"access_control: policy none\n"
	if res.code != exitOK || res.stdout != want {
		t.Errorf("api: exit %d\n%s\nwant\n%s%s", res.code, res.stdout, want, res.stderr)
	}
}

// TestClientCmdSiteConfig: with a site config, no URL flag is needed; the
// host entry's wamp_http wins over the hub's, as for OCSClient.
func TestClientCmdSiteConfig(t *testing.T) {
	r := startTestRouter(t)
	dir := t.TempDir()
	writeSCF(t, dir, "default.yaml", fmt.Sprintf(`hub:
  wamp_server: ws://127.0.0.1:1/ws
  wamp_http: http://127.0.0.1:1/call
  wamp_realm: test_realm
  address_root: observatory
hosts:
  ops-host:
    wamp_http: %s
    agent-instances: []
`, r.CallURL()))
	writeSCF(t, dir, "ws.yaml", fmt.Sprintf("hub:\n  wamp_server: %s\n  address_root: observatory\nhosts: {}\n", r.WSURL()))
	ce := cmdEnv{vars: map[string]string{"OCS_CONFIG_DIR": dir}, hostname: "ops-host"}

	if res := runArgs(t, ce, "client", "influxagent", "status", "record"); res.code != exitOK {
		t.Errorf("site config with host entry: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	// Another machine uses the hub's (dead) URL: OCS's connection error.
	other := cmdEnv{vars: ce.vars, hostname: "elsewhere"}
	res := runArgs(t, other, "client", "influxagent", "status", "record")
	if res.code != exitError || !strings.Contains(res.stderr, "client_http.error.connection_error: Failed to connect to http://127.0.0.1:1/call") {
		t.Errorf("hub URL: exit %d, stderr %s", res.code, res.stderr)
	}
	// --site-host chooses the entry; --site picks another file.
	if res := runArgs(t, other, "client", "--site-host", "ops-host", "influxagent", "status", "record"); res.code != exitOK {
		t.Errorf("--site-host: exit %d %s", res.code, res.stderr)
	}
	if res := runArgs(t, other, "client", "--site", "ws", "influxagent", "status", "record"); res.code != exitOK {
		t.Errorf("--site ws (WebSocket only): exit %d %s", res.code, res.stderr)
	}
	// --address-root overrides the site's root.
	res = runArgs(t, ce, "client", "--address-root", "other", "influxagent", "status", "record")
	if res.code != exitError || !strings.Contains(res.stderr, "not authorized to call procedure 'other.influxagent.ops'") {
		t.Errorf("--address-root: exit %d %s", res.code, res.stderr)
	}
}

func TestClientCmdFailures(t *testing.T) {
	r := startTestRouter(t)
	res := runArgs(t, cmdEnv{}, "client", "--site-http", r.CallURL(), "nobody", "status", "record")
	if res.code != exitError || !strings.Contains(res.stderr, "wamp.error.no_such_procedure: no callee registered for procedure <observatory.nobody.ops>") {
		t.Errorf("agent not running: exit %d, stderr %s", res.code, res.stderr)
	}
	res = runArgs(t, cmdEnv{}, "client", "influxagent", "status", "record")
	if res.code != exitError || !strings.Contains(res.stderr, "no router to call") {
		t.Errorf("no router: exit %d, stderr %s", res.code, res.stderr)
	}
	res = runArgs(t, cmdEnv{}, "client", "--site-hub", "ws://127.0.0.1:1/ws", "influxagent", "status", "record")
	if res.code != exitError || !strings.Contains(res.stderr, "client_http.error.connection_error: Failed to connect to ws://127.0.0.1:1/ws") {
		t.Errorf("dead hub: exit %d, stderr %s", res.code, res.stderr)
	}
}

func TestClientCmdUsage(t *testing.T) {
	for _, args := range [][]string{
		{"client"},
		{"client", "influxagent"},
		{"client", "influxagent", "frobnicate", "record"},
		{"client", "influxagent", "status"},
		{"client", "influxagent", "api", "record"},
		{"client", "influxagent", "stop", "record", "x=1"},
		{"client", "influxagent", "start", "record", "--timeout", "3"},
		{"client", "influxagent", "start", "record", "novalue"},
		{"client", "influxagent", "wait", "record", "--timeout", "soon"},
		{"client", "--site-http", "http://x/call", "--site-hub", "ws://x/ws", "influxagent", "status", "record"},
		{"client", "observatory.influxagent", "status", "record"},
		{"client", "influxagent", "status", "record", "--max-degraded", "5m"},
		{"client", "influxagent", "wait", "record", "--max-degraded=0"},
		{"client", "influxagent", "health"},
		{"client", "influxagent", "health", "record", "--max-degraded", "soon"},
		{"client", "influxagent", "health", "record", "--max-degraded=-1m"},
		{"client", "influxagent", "health", "record", "--timeout", "3"},
		{"client", "influxagent", "health", "record", "x=1"},
	} {
		if res := runArgs(t, cmdEnv{}, args...); res.code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %s)", args, res.code, exitUsage, res.stderr)
		}
	}
}

// setDegraded makes the fake's record session degraded (since seconds
// ago, with reason; since < 0: with no degraded_since in its data, as
// another agent class) or not degraded (since == 0).
func setDegraded(t *testing.T, a *clienttest.FakeAgent, since time.Duration, reason string) {
	t.Helper()
	ok := a.UpdateSession(func(s map[string]any) {
		data := s["data"].(map[string]any)
		delete(data, "degraded_since")
		delete(data, "degraded_reason")
		s["degraded"], s["op_code"] = since != 0, 3
		switch {
		case since > 0:
			data["degraded_since"] = float64(time.Now().Add(-since).UnixNano()) / 1e9
			data["degraded_reason"] = reason
		case since == 0:
			data["degraded_since"] = nil
			data["degraded_reason"] = ""
		}
		if since != 0 {
			s["op_code"] = 8
		}
	})
	if !ok {
		t.Fatal("record was never started")
	}
}

// TestClientCmdHealth: health passes only for a running record that is
// not degraded, or degraded for at most --max-degraded; it fails (exit 1)
// with one line on stderr otherwise.
func TestClientCmdHealth(t *testing.T) {
	for _, transport := range []string{"http", "wamp"} {
		t.Run(transport, func(t *testing.T) {
			r, agent := startTestAgent(t)
			via := []string{"--site-http", r.CallURL()}
			if transport == "wamp" {
				via = []string{"--site-hub", r.WSURL()}
			}
			health := func(args ...string) cmdResult {
				t.Helper()
				return runArgs(t, cmdEnv{}, append(append([]string{"client"}, via...), args...)...)
			}
			// The degraded times are "<m>m<s>s" from the wall clock: the
			// seconds vary with the machine's speed.
			secs := regexp.MustCompile(`(degraded for \d+m)\d+s`)
			check := func(what string, res cmdResult, code int, stdout, stderr string) {
				t.Helper()
				res.stdout = secs.ReplaceAllString(res.stdout, "${1}Ss")
				res.stderr = secs.ReplaceAllString(res.stderr, "${1}Ss")
				if res.code != code || res.stdout != stdout || res.stderr != stderr {
					t.Errorf("%s: exit %d, want %d\nstdout %q\nwant   %q\nstderr %q\nwant   %q",
						what, res.code, code, res.stdout, stdout, res.stderr, stderr)
				}
			}

			check("never started", health("influxagent", "health", "record"), exitError,
				"", "ocsflux: record is not running (no session: it has not run since the agent started)\n")
			check("unknown op", health("influxagent", "health", "nothing"), exitError,
				"", "ocsflux: nothing: status reply ERROR: No task or process called \"nothing\"\n")
			check("agent not running", health("nobody", "health", "record"), exitError,
				"", "ocsflux: wamp.error.no_such_procedure: no callee registered for procedure <observatory.nobody.ops>\n")

			if res := health("influxagent", "start", "record"); res.code != exitOK {
				t.Fatalf("start: exit %d %s", res.code, res.stderr)
			}
			check("running", health("influxagent", "health", "record"), exitOK, "record is running\n", "")
			// What health sends is status's call.
			calls := agent.Calls()
			last := calls[len(calls)-1]
			if last.Procedure != "observatory.influxagent.ops" || len(last.Args) != 3 || last.Args[0] != "status" || last.Args[1] != "record" {
				t.Errorf("health called %s %v, want status record", last.Procedure, last.Args)
			}

			setDegraded(t, agent, 0, "")
			check("running, degraded_since null", health("influxagent", "health", "record"), exitOK, "record is running\n", "")

			setDegraded(t, agent, 10*time.Minute, "not connected")
			check("degraded 10m, default 5m", health("influxagent", "health", "record"), exitError,
				"", "ocsflux: record has been degraded for 10mSs (more than 5m): not connected\n")
			check("degraded 10m, --max-degraded 5m", health("influxagent", "health", "record", "--max-degraded", "5m"), exitError,
				"", "ocsflux: record has been degraded for 10mSs (more than 5m): not connected\n")
			check("degraded 10m, --max-degraded 900 (seconds)", health("influxagent", "health", "record", "--max-degraded", "900"), exitOK,
				"record is running, degraded for 10mSs (at most 15m): not connected\n", "")

			setDegraded(t, agent, time.Minute, "HTTP 500: engine: error writing WAL")
			check("degraded 1m, --max-degraded 5m", health("influxagent", "health", "record", "--max-degraded", "5m"), exitOK,
				"record is running, degraded for 1mSs (at most 5m): HTTP 500: engine: error writing WAL\n", "")
			check("degraded 1m, default", health("influxagent", "health", "record"), exitOK,
				"record is running, degraded for 1mSs (at most 5m): HTTP 500: engine: error writing WAL\n", "")
			check("degraded 1m, --max-degraded 30s", health("influxagent", "health", "record", "--max-degraded=30s"), exitError,
				"", "ocsflux: record has been degraded for 1mSs (more than 30s): HTTP 500: engine: error writing WAL\n")
			check("degraded 1m, --max-degraded 0", health("influxagent", "health", "--max-degraded", "0", "record"), exitError,
				"", "ocsflux: record has been degraded for 1mSs (--max-degraded 0): HTTP 500: engine: error writing WAL\n")

			// Another agent class: degraded without degraded_since.
			setDegraded(t, agent, -1, "")
			check("degraded, no degraded_since", health("influxagent", "health", "record"), exitError,
				"", "ocsflux: record is degraded, for an unknown time (its session data has no degraded_since)\n")
			check("degraded, no degraded_since, --max-degraded 0", health("influxagent", "health", "record", "--max-degraded", "0"), exitError,
				"", "ocsflux: record is degraded (--max-degraded 0)\n")

			// --json: the reply as status prints it, and the exit status.
			res := health("--json", "influxagent", "health", "record")
			st := health("--json", "influxagent", "status", "record")
			if res.code != exitError || st.code != exitOK || res.stdout != st.stdout ||
				res.stderr != "ocsflux: record is degraded, for an unknown time (its session data has no degraded_since)\n" {
				t.Errorf("--json health: exit %d, stdout\n%s\nwant (status's)\n%s\nstderr %q", res.code, res.stdout, st.stdout, res.stderr)
			}
			setDegraded(t, agent, 0, "")
			res = health("--json", "influxagent", "health", "record")
			st = health("--json", "influxagent", "status", "record")
			if res.code != exitOK || res.stdout != st.stdout || res.stderr != "" {
				t.Errorf("--json health, healthy: exit %d, stdout\n%s\nwant (status's)\n%s\nstderr %q", res.code, res.stdout, st.stdout, res.stderr)
			}

			if res := health("influxagent", "stop", "record"); res.code != exitOK {
				t.Fatalf("stop: exit %d %s", res.code, res.stderr)
			}
			check("done", health("influxagent", "health", "record"), exitError,
				"", "ocsflux: record is not running (status done)\n")
		})
	}
}

// TestHealthOf covers what the fake agent does not produce: the other
// statuses, sessions without a degraded flag, clock skew, the rounding.
func TestHealthOf(t *testing.T) {
	now := time.Unix(1795294600, 0)
	running := func(kv ...any) client.Reply {
		s := map[string]any{"session_id": int64(1), "op_name": "record", "status": "running", "degraded": false,
			"data": map[string]any{}}
		for i := 0; i+1 < len(kv); i += 2 {
			if k := kv[i].(string); strings.HasPrefix(k, "data.") {
				s["data"].(map[string]any)[strings.TrimPrefix(k, "data.")] = kv[i+1]
			} else if kv[i+1] == nil {
				delete(s, k)
			} else {
				s[k] = kv[i+1]
			}
		}
		return client.Reply{Status: client.OK, Message: "Session active.", Session: s}
	}
	since := func(d time.Duration) float64 { return float64(now.Add(-d).UnixNano()) / 1e9 }
	for _, c := range []struct {
		name  string
		reply client.Reply
		max   time.Duration
		want  string // "ok: <verdict>" or the error
	}{
		{"running", running(), 5 * time.Minute, "ok: record is running"},
		{"starting", running("status", "starting"), 5 * time.Minute, "record is not running (status starting)"},
		{"stopping", running("status", "stopping"), 5 * time.Minute, "record is not running (status stopping)"},
		{"TIMEOUT reply", client.Reply{Status: client.TIMEOUT, Message: "timed out"}, 0, "record: status reply TIMEOUT: timed out"},
		{"no session", client.Reply{Status: client.OK, Message: "No session active.", Session: map[string]any{}}, 0,
			"record is not running (no session: it has not run since the agent started)"},
		{"exactly max", running("degraded", true, "data.degraded_since", since(5*time.Minute)), 5 * time.Minute,
			"ok: record is running, degraded for 5m0s (at most 5m)"},
		{"max + 0.4 s rounds to max", running("degraded", true, "data.degraded_since", since(5*time.Minute+400*time.Millisecond)), 5 * time.Minute,
			"ok: record is running, degraded for 5m0s (at most 5m)"},
		{"max + 1 s", running("degraded", true, "data.degraded_since", since(5*time.Minute+time.Second), "data.degraded_reason", "not connected"), 5 * time.Minute,
			"record has been degraded for 5m1s (more than 5m): not connected"},
		{"an hour, integer since", running("degraded", true, "data.degraded_since", now.Unix()-3600-432), 5 * time.Minute,
			"record has been degraded for 1h7m12s (more than 5m)"},
		{"since in the future", running("degraded", true, "data.degraded_since", since(-time.Hour)), time.Minute,
			"ok: record is running, degraded for 0s (at most 1m)"},
		{"since in the future, max 0", running("degraded", true, "data.degraded_since", since(-time.Hour)), 0,
			"record has been degraded for 0s (--max-degraded 0)"},
		{"since a long time ago", running("degraded", true, "data.degraded_since", -1e300), 5 * time.Minute,
			"record has been degraded for 2562047h47m16s (more than 5m)"},
		{"degraded false wins over a stale degraded_since", running("data.degraded_since", since(time.Hour)), 5 * time.Minute,
			"ok: record is running"},
		{"no degraded key, op_code 8", running("degraded", nil, "op_code", int64(8)), 5 * time.Minute,
			"record is degraded, for an unknown time (its session data has no degraded_since)"},
		{"no degraded key, op_code 3", running("degraded", nil, "op_code", int64(3)), 5 * time.Minute,
			"ok: record is running"},
		{"no degraded key, degraded_since", running("degraded", nil, "data.degraded_since", since(time.Hour)), 5 * time.Minute,
			"record has been degraded for 1h0m0s (more than 5m)"},
		{"degraded_since not a number", running("degraded", true, "data.degraded_since", "yesterday"), 5 * time.Minute,
			"record is degraded, for an unknown time (its session data has no degraded_since)"},
		{"no data", running("degraded", true, "data", nil), 5 * time.Minute,
			"record is degraded, for an unknown time (its session data has no degraded_since)"},
	} {
		verdict, err := healthOf("record", c.reply, c.max, now)
		got := "ok: " + verdict
		if err != nil {
			got = err.Error()
			if verdict != "" {
				t.Errorf("%s: verdict %q with error", c.name, verdict)
			}
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
