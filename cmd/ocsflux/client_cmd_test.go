package main

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/agents/client/clienttest"
	"github.com/ocsflux/ocsflux/agents/router"
	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

// startTestRouter runs an in-process router with a fake InfluxDBAgent,
// observatory.influxagent.
func startTestRouter(t *testing.T) *router.Router {
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
	clienttest.Start(t, r.WSURL(), "observatory", "influxagent")
	return r
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
	} {
		if res := runArgs(t, cmdEnv{}, args...); res.code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %s)", args, res.code, exitUsage, res.stderr)
		}
	}
}
