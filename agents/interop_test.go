package agents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
)

// pythonWithAutobahn is Debian's interpreter, which has python3-autobahn.
const pythonWithAutobahn = "/usr/bin/python3"

// clientOutput is what testdata/ocs_client.py prints.
type clientOutput struct {
	Serializer string            `json:"serializer"`
	Errors     []string          `json:"errors"`
	Management map[string]any    `json:"management"`
	Ops        []json.RawMessage `json:"ops"`
	Heartbeats []struct {
		Topic   string         `json:"topic"`
		NArgs   int            `json:"nargs"`
		Kwargs  map[string]any `json:"kwargs"`
		Message map[string]any `json:"message"`
		Keys    []string       `json:"keys"`
		Feed    map[string]any `json:"feed"`
	} `json:"heartbeats"`
}

// TestPythonInterop: a Python autobahn client calls the Go agent the way
// OCSClient, ocs-web and OperationClient do (management, then ops with
// their argument conventions) and subscribes to the heartbeat with a
// wildcard pattern; every reply has OCS's shape and exact text (checklist
// 10-19, 30, 31 seen from Python).
func TestPythonInterop(t *testing.T) {
	t.Parallel() // slow; ports are not reused
	if _, err := os.Stat(pythonWithAutobahn); err != nil {
		t.Fatalf("%s is required for the interop test (Debian python3 with python3-autobahn): %v", pythonWithAutobahn, err)
	}
	probe := exec.Command(pythonWithAutobahn, "-c", "import autobahn.asyncio.wamp, msgpack")
	if out, err := probe.CombinedOutput(); err != nil {
		t.Fatalf("python3-autobahn (with msgpack) is not importable by %s: %v\n%s", pythonWithAutobahn, err, out)
	}
	for _, ser := range []string{"json", "msgpack"} {
		t.Run(ser, func(t *testing.T) {
			f := newFixture(t, nil, nil)
			f.recordRelease.open()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, pythonWithAutobahn, "testdata/ocs_client.py", f.tr.url(), testRealm, f.addr, ser)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("python client: %v\nstderr:\n%s", err, stderr.String())
			}
			var result []byte
			for _, line := range bytes.Split(stdout.Bytes(), []byte("\n")) {
				if rest, ok := bytes.CutPrefix(line, []byte("OCS_CLIENT_RESULT ")); ok {
					result = rest
				}
			}
			var out clientOutput
			if err := json.Unmarshal(result, &out); err != nil {
				t.Fatalf("python output: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			if len(out.Errors) > 0 {
				t.Fatalf("python client errors: %v", out.Errors)
			}
			if out.Serializer != ser {
				t.Errorf("python client used %q, want %q", out.Serializer, ser)
			}
			checkInteropManagement(t, f, out.Management)
			checkInteropOps(t, out.Ops)
			if len(out.Heartbeats) < 2 {
				t.Fatalf("python client saw %d heartbeats", len(out.Heartbeats))
			}
			for _, hb := range out.Heartbeats {
				if hb.Topic != f.addr+".feeds.heartbeat" || hb.NArgs != 1 || len(hb.Kwargs) != 0 {
					t.Errorf("heartbeat topic %q, %d args, kwargs %v", hb.Topic, hb.NArgs, hb.Kwargs)
				}
				if strings.Join(sortedCopy(hb.Keys), ",") != "crash,data,delay_task,raw,record,set_flag" {
					t.Errorf("heartbeat keys %v", hb.Keys)
				}
				checkFeedInfo(t, hb.Feed, f.addr, "heartbeat", false, map[string]any{}, f.ra.SessionID())
			}
		})
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

func checkInteropManagement(t *testing.T, f *fixture, m map[string]any) {
	t.Helper()
	api, ok := m["get_api"].(map[string]any)
	if !ok {
		t.Fatalf("get_api %#v", m["get_api"])
	}
	if keysOf(api) != "access_control,agent_class,feeds,instance_hostname,instance_pid,processes,tasks" {
		t.Errorf("get_api keys %s", keysOf(api))
	}
	acl := api["access_control"].(map[string]any)
	if acl["policy"] != "none" || acl["version"] != 1.0 || acl["update_count"] != 0.0 || acl["step"] != 0.0 {
		t.Errorf("access_control %v", acl)
	}
	if m["get_agent_class"] != "TestAgent" || m["get_bogus"] != nil {
		t.Errorf("get_agent_class %v, unknown query %v", m["get_agent_class"], m["get_bogus"])
	}
	procs := m["get_processes"].([]any)
	if len(procs) != 3 || procs[2].([]any)[0] != "record" {
		t.Fatalf("get_processes %v", procs)
	}
	rec := procs[2].([]any)
	if s := rec[1].(map[string]any); s["status"] != "no_history" || len(s) != 2 {
		t.Errorf("record session before any start %v", s)
	}
	if info := rec[2].(map[string]any); info["docstring"] != recordDoc || keysOf(info) != "blocking,docstring,min_privs,op_type" {
		t.Errorf("record op_info %v", info)
	}
	tasks := m["get_tasks"].([]any)
	if len(tasks) != 3 || keysOf(tasks[1].([]any)[2].(map[string]any)) != "abortable,blocking,docstring,min_privs,op_type" {
		t.Errorf("get_tasks %v", tasks)
	}
	fl := m["get_feeds"].([]any)
	if len(fl) != 1 || fl[0].([]any)[0] != "heartbeat" {
		t.Errorf("get_feeds %v", fl)
	}
}

func checkInteropOps(t *testing.T, raw []json.RawMessage) {
	t.Helper()
	want := []struct {
		label  string
		code   float64
		msg    string
		status string // "" : session {}
	}{
		{"status never run", 0, "No session active.", ""},
		{"wait never run", 0, "Idle.", ""},
		{"start", 0, `Started process "record".`, "starting"},
		{"status", 0, "Session active.", "*"},
		{"start while running", -1, `Operation "record" already in progress.`, "*"},
		{"wait timeout=0", 1, `Operation "record" still running; wait timed out.`, "running"},
		{"wait timeout=0.2", 1, `Operation "record" still running; wait timed out.`, "running"},
		{"stop", 0, `Requested stop on process record".`, "running"},
		{"wait timeout=10", 0, `Operation "record" is currently not running (SUCCEEDED).`, "done"},
		{"stop again", -1, "The operation is already done", ""},
		{"start bad type", -1, "Param 'test_mode'=yes is not of required type (<class 'bool'>)", ""},
		{"start unknown param", -1, "params included unexpected values: ['bogus']", ""},
		{"wait after rejected start", 0, "Idle.", ""},
		{"start test_mode", 0, `Started process "record".`, "starting"},
		{"wait test_mode", 0, `Operation "record" is currently not running (SUCCEEDED).`, "done"},
		{"status unknown op", -1, `No task or process called "nope"`, ""},
		{"abort on a process", -1, `Cannot "abort" "record" because it is a "{op_type}".`, ""},
		{"unknown action", -1, `No implementation for "record"`, ""},
		{"ocs-web status", 0, "No session active.", ""},
		{"ocs-web start", 0, `Started task "delay_task".`, "starting"},
		{"ocs-web abort", 0, `Requested abort on task delay_task".`, "*"},
		{"ocs-web wait", 0, `Operation "delay_task" is currently not running (FAILED).`, "done"},
		{"OperationClient status", 0, "Session active.", "done"},
	}
	if len(raw) != len(want)+1 {
		t.Fatalf("python client made %d ops calls, want %d", len(raw), len(want)+1)
	}
	for i, w := range want {
		var entry []json.RawMessage
		if err := json.Unmarshal(raw[i], &entry); err != nil || len(entry) != 2 {
			t.Fatalf("ops entry %s", raw[i])
		}
		var reply []any
		if err := json.Unmarshal(entry[1], &reply); err != nil || len(reply) != 3 {
			t.Errorf("%s: reply %s is not a 3-list", w.label, entry[1])
			continue
		}
		sessObj, ok := reply[2].(map[string]any)
		if reply[0] != w.code || reply[1] != w.msg || !ok {
			t.Errorf("%s: (%v, %v), want (%v, %q)", w.label, reply[0], reply[1], w.code, w.msg)
			continue
		}
		switch w.status {
		case "":
			if len(sessObj) != 0 {
				t.Errorf("%s: session %v, want {}", w.label, sessObj)
			}
		default:
			if len(sessObj) != 11 {
				t.Errorf("%s: session has %d keys, want 11", w.label, len(sessObj))
			}
			if w.status != "*" && sessObj["status"] != w.status {
				t.Errorf("%s: status %v, want %s", w.label, sessObj["status"], w.status)
			}
		}
	}
	// The last call has too few arguments: a WAMP runtime error.
	var last []json.RawMessage
	_ = json.Unmarshal(raw[len(raw)-1], &last)
	var e map[string]any
	if err := json.Unmarshal(last[1], &e); err != nil || e["error"] != "wamp.error.runtime_error" {
		t.Errorf("too few args: %s", raw[len(raw)-1])
	}
}
