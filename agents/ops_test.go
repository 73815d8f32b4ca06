package agents_test

import (
	"sort"
	"strings"
	"testing"
	"time"
)

// checkSessionShape asserts the encoded session of ocs-protocol.md §3.1:
// exactly 11 keys with their types; success and end_time null until done
// (checklist 21).
func checkSessionShape(t *testing.T, s map[string]any) {
	t.Helper()
	want := []string{"cred_level", "data", "degraded", "end_time", "messages", "op_code", "op_name",
		"session_id", "start_time", "status", "success"}
	var got []string
	for k := range s {
		got = append(got, k)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("session keys %v, want %v", got, want)
	}
	if _, ok := asInt(s["session_id"]); !ok {
		t.Errorf("session_id %#v is not an int", s["session_id"])
	}
	if _, ok := s["op_name"].(string); !ok {
		t.Errorf("op_name %#v is not a string", s["op_name"])
	}
	code, ok := asInt(s["op_code"])
	if !ok || code < 2 || code > 8 || code == 7 {
		t.Errorf("op_code %#v", s["op_code"])
	}
	if c, _ := asInt(s["cred_level"]); c != 1 {
		t.Errorf("cred_level %#v, want 1", s["cred_level"])
	}
	status, _ := s["status"].(string)
	switch status {
	case "starting", "running", "stopping", "done":
	default:
		t.Errorf("status %#v", s["status"])
	}
	if _, ok := s["degraded"].(bool); !ok {
		t.Errorf("degraded %#v is not a bool", s["degraded"])
	}
	if _, ok := asFloat(s["start_time"]); !ok {
		t.Errorf("start_time %#v is not a float", s["start_time"])
	}
	if _, ok := s["data"].(map[string]any); !ok {
		t.Errorf("data %#v is not an object", s["data"])
	}
	msgs, ok := s["messages"].([]any)
	if !ok {
		t.Fatalf("messages %#v is not a list", s["messages"])
	}
	for _, m := range msgs {
		pair, ok := m.([]any)
		if !ok || len(pair) != 2 {
			t.Fatalf("message %#v is not a pair", m)
		}
		if _, ok := asFloat(pair[0]); !ok {
			t.Errorf("message time %#v is not a float", pair[0])
		}
		if _, ok := pair[1].(string); !ok {
			t.Errorf("message text %#v is not a string", pair[1])
		}
	}
	if status == "done" {
		if _, ok := s["success"].(bool); !ok {
			t.Errorf("success %#v is not a bool when done", s["success"])
		}
		if _, ok := asFloat(s["end_time"]); !ok {
			t.Errorf("end_time %#v is not a float when done", s["end_time"])
		}
	} else if s["success"] != nil || s["end_time"] != nil {
		t.Errorf("success %#v / end_time %#v not null before done", s["success"], s["end_time"])
	}
}

// messageTexts returns the texts of a session's messages.
func messageTexts(s map[string]any) []string {
	var out []string
	for _, m := range s["messages"].([]any) {
		out = append(out, m.([]any)[1].(string))
	}
	return out
}

// sess returns a check of a session's status, op_code and session_id (-1:
// any).
func sess(status string, code int64, id int64) func(t *testing.T, s map[string]any) {
	return func(t *testing.T, s map[string]any) {
		t.Helper()
		checkSessionShape(t, s)
		if s["status"] != status {
			t.Errorf("status %v, want %v", s["status"], status)
		}
		if c, _ := asInt(s["op_code"]); c != code {
			t.Errorf("op_code %v, want %v", s["op_code"], code)
		}
		if n, _ := asInt(s["session_id"]); id >= 0 && n != id {
			t.Errorf("session_id %v, want %v", s["session_id"], id)
		}
	}
}

// withMessages adds a check of the message texts to a session check.
func withMessages(check func(*testing.T, map[string]any), texts ...string) func(*testing.T, map[string]any) {
	return func(t *testing.T, s map[string]any) {
		t.Helper()
		check(t, s)
		if got := messageTexts(s); strings.Join(got, "|") != strings.Join(texts, "|") {
			t.Errorf("messages %q, want %q", got, texts)
		}
	}
}

// TestOpsReplies walks one agent through every .ops case of
// ocs-protocol.md §2.3, in order, asserting the exact reply of each call
// (checklist 14-19, 23-25, 28).
func TestOpsReplies(t *testing.T) {
	f := newFixture(t, nil, nil)
	const (
		inProgress = `Operation "record" already in progress.`
		timedOut   = `Operation "record" still running; wait timed out.`
	)
	var stepStart time.Time
	steps := []struct {
		name   string
		before func(t *testing.T)
		args   []any
		kwargs map[string]any
		code   int64
		msg    string
		sess   func(t *testing.T, s map[string]any) // nil: want {}
		minDur time.Duration
		after  func(t *testing.T)
	}{
		{name: "14 status unknown op", args: []any{"status", "nope", map[string]any{}}, code: -1, msg: `No task or process called "nope"`},
		{name: "14 start unknown op", args: []any{"start", "nope", map[string]any{}}, code: -1, msg: `No task or process called "nope"`},
		{name: "14 stop unknown op", args: []any{"stop", "nope", map[string]any{}}, code: -1, msg: `No operation called "nope".`},
		{name: "14 abort unknown op", args: []any{"abort", "nope", map[string]any{}}, code: -1, msg: `No operation called "nope".`},
		{name: "14 wait unknown op", args: []any{"wait", "nope", map[string]any{}}, code: -1, msg: `Unknown operation "nope".`},
		{name: "14 unknown action names the op", args: []any{"frobnicate", "record", map[string]any{}}, code: -1, msg: `No implementation for "record"`},
		{name: "status never run", args: []any{"status", "record", map[string]any{}}, code: 0, msg: "No session active."},
		{name: "wait never run", args: []any{"wait", "record", map[string]any{}}, kwargs: map[string]any{"timeout": 1}, code: 0, msg: "Idle."},
		{name: "stop never run", args: []any{"stop", "record", map[string]any{}}, code: -1, msg: "No session active."},
		{name: "14 abort on a process", args: []any{"abort", "record", map[string]any{}}, code: -1, msg: `Cannot "abort" "record" because it is a "{op_type}".`},
		{name: "14 stop on a task", args: []any{"stop", "delay_task", map[string]any{}}, code: -1, msg: `Cannot "stop" "delay_task" because it is a "{op_type}".`},
		{name: "28 bad param type", args: []any{"start", "record", map[string]any{"test_mode": "yes"}}, code: -1,
			msg: "Param 'test_mode'=yes is not of required type (<class 'bool'>)"},
		{name: "28 unexpected param", args: []any{"start", "record", map[string]any{"bogus": 1}}, code: -1,
			msg: "params included unexpected values: ['bogus']"},
		{name: "28 no session after rejected starts", args: []any{"status", "record", map[string]any{}}, code: 0, msg: "No session active."},
		{name: "start", args: []any{"start", "record", map[string]any{}}, code: 0, msg: `Started process "record".`,
			sess: withMessages(sess("starting", 2, 0), `Status is now "starting".`)},
		{name: "15 start while running", args: []any{"start", "record", map[string]any{}}, code: -1, msg: inProgress,
			sess: func(t *testing.T, s map[string]any) {
				checkSessionShape(t, s)
				if id, _ := asInt(s["session_id"]); id != 0 || (s["status"] != "starting" && s["status"] != "running") {
					t.Errorf("session %v, want session 0 starting or running", s)
				}
			}},
		{name: "18 wait timeout 0 while running", before: func(t *testing.T) { f.waitStatus(t, "record", "running") },
			args: []any{"wait", "record", map[string]any{}}, kwargs: map[string]any{"timeout": 0}, code: 1, msg: timedOut, sess: sess("running", 3, 0)},
		{name: "18 wait negative timeout", args: []any{"wait", "record", map[string]any{}}, kwargs: map[string]any{"timeout": -1.5}, code: 1, msg: timedOut, sess: sess("running", 3, 0)},
		{name: "18 wait positive timeout", args: []any{"wait", "record", map[string]any{}}, kwargs: map[string]any{"timeout": 0.3}, code: 1, msg: timedOut,
			sess: sess("running", 3, 0), minDur: 300 * time.Millisecond},
		{name: "17 stop carries the session before the stopper", args: []any{"stop", "record", map[string]any{}}, code: 0, msg: `Requested stop on process record".`,
			sess: withMessages(sess("running", 3, 0), `Status is now "starting".`, `Status is now "running".`)},
		{name: "23 stopping is op_code 4", args: []any{"status", "record", map[string]any{}}, code: 0, msg: "Session active.", sess: sess("stopping", 4, 0)},
		{name: "stop while stopping", args: []any{"stop", "record", map[string]any{}}, code: -1, msg: "The operation is already stopping"},
		{name: "15 start while stopping", args: []any{"start", "record", map[string]any{}}, code: -1, msg: inProgress, sess: sess("stopping", 4, 0)},
		{name: "18 wait timeout while stopping", args: []any{"wait", "record", map[string]any{}}, kwargs: map[string]any{"timeout": 0.05}, code: 1, msg: timedOut, sess: sess("stopping", 4, 0)},
		{name: "18/19/25 wait without timeout until done", before: func(t *testing.T) {
			time.AfterFunc(200*time.Millisecond, f.recordRelease.open)
		}, args: []any{"wait", "record", map[string]any{}}, code: 0, msg: `Operation "record" is currently not running (SUCCEEDED).`,
			sess: withMessages(sess("done", 5, 0), `Status is now "starting".`, `Status is now "running".`, `Status is now "stopping".`,
				"Aggregation has ended", `Status is now "done".`),
			minDur: 150 * time.Millisecond},
		{name: "stop when done", args: []any{"stop", "record", map[string]any{}}, code: -1, msg: "The operation is already done"},
		{name: "19 wait on done ignores a negative timeout", args: []any{"wait", "record", map[string]any{}}, kwargs: map[string]any{"timeout": -1},
			code: 0, msg: `Operation "record" is currently not running (SUCCEEDED).`, sess: sess("done", 5, 0)},
		{name: "wait on done ignores a non-numeric timeout", args: []any{"wait", "record", map[string]any{}}, kwargs: map[string]any{"timeout": "soon"},
			code: 0, msg: `Operation "record" is currently not running (SUCCEEDED).`, sess: sess("done", 5, 0)},
		{name: "status when done", args: []any{"status", "record", map[string]any{}}, code: 0, msg: "Session active.", sess: sess("done", 5, 0)},
		{name: "16 rejected start after done", args: []any{"start", "record", map[string]any{"test_mode": "yes"}}, code: -1,
			msg: "Param 'test_mode'=yes is not of required type (<class 'bool'>)"},
		{name: "16 status: no session", args: []any{"status", "record", map[string]any{}}, code: 0, msg: "No session active."},
		{name: "16 wait: idle", args: []any{"wait", "record", map[string]any{}}, kwargs: map[string]any{"timeout": 1}, code: 0, msg: "Idle."},
		{name: "16 stop: no session", args: []any{"stop", "record", map[string]any{}}, code: -1, msg: "No session active.",
			after: func(t *testing.T) {
				procs := mgmt(t, f.c, f.addr, "get_processes").([]any)
				for _, p := range procs {
					tuple := p.([]any)
					if tuple[0] == "record" {
						s := tuple[1].(map[string]any)
						if len(s) != 2 || s["op_name"] != "record" || s["status"] != "no_history" {
							t.Errorf("get_processes record session %#v, want no_history", s)
						}
					}
				}
			}},
		{name: "24 start test_mode takes the next id", args: []any{"start", "record", map[string]any{"test_mode": true}}, code: 0,
			msg: `Started process "record".`, sess: sess("starting", 2, 1)},
		{name: "29-like test_mode run ends", args: []any{"wait", "record", map[string]any{}}, code: 0,
			msg:  `Operation "record" is currently not running (SUCCEEDED).`,
			sess: withMessages(sess("done", 5, 1), `Status is now "starting".`, `Status is now "running".`, "Aggregation has ended", `Status is now "done".`)},
		{name: "start task", args: []any{"start", "delay_task", map[string]any{"delay": 30}}, code: 0, msg: `Started task "delay_task".`, sess: sess("starting", 2, 2)},
		{name: "14 abort", before: func(t *testing.T) { f.waitStatus(t, "delay_task", "running") },
			args: []any{"abort", "delay_task", map[string]any{}}, code: 0, msg: `Requested abort on task delay_task".`, sess: sess("running", 3, 2)},
		{name: "19 wait on an aborted task: FAILED", args: []any{"wait", "delay_task", map[string]any{}}, code: 0,
			msg: `Operation "delay_task" is currently not running (FAILED).`,
			sess: withMessages(sess("done", 6, 2), `Status is now "starting".`, `Status is now "running".`, `Status is now "stopping".`,
				"Aborted after 0.0 seconds", `Status is now "done".`)},
		{name: "28 check fails", args: []any{"start", "delay_task", map[string]any{"delay": -1}}, code: -1, msg: "Param 'delay' failed validity check (see docs?)."},
		{name: "start failing task", args: []any{"start", "delay_task", map[string]any{"delay": 0, "succeed": false}}, code: 0, msg: `Started task "delay_task".`, sess: sess("starting", 2, 3)},
		{name: "19 wait: FAILED", args: []any{"wait", "delay_task", map[string]any{}}, kwargs: map[string]any{"timeout": 10}, code: 0,
			msg: `Operation "delay_task" is currently not running (FAILED).`, sess: sess("done", 6, 3)},
		{name: "start non-abortable task", args: []any{"start", "set_flag", map[string]any{"flag": false}}, code: 0, msg: `Started task "set_flag".`, sess: sess("starting", 2, 4)},
		{name: "abort of a non-abortable task is OK", before: func(t *testing.T) { f.waitStatus(t, "set_flag", "running") },
			args: []any{"abort", "set_flag", map[string]any{}}, code: 0, msg: `Requested abort on task set_flag".`, sess: sess("running", 3, 4)},
		{name: "non-abortable task keeps running", args: []any{"abort", "set_flag", []any{}}, code: 0, msg: `Requested abort on task set_flag".`, sess: sess("running", 3, 4)},
		{name: "non-abortable task completes", before: func(t *testing.T) { f.flagRelease.open() },
			args: []any{"wait", "set_flag", map[string]any{}}, code: 0, msg: `Operation "set_flag" is currently not running (SUCCEEDED).`,
			sess: withMessages(sess("done", 5, 4), `Status is now "starting".`, `Status is now "running".`, "Set flag: false", `Status is now "done".`)},
		{name: "28 choices", args: []any{"start", "crash", map[string]any{"kind": "x"}}, code: -1, msg: "Param 'kind'=x is not in allowed set (['error', 'panic', 'param'])"},
		{name: "start crash", args: []any{"start", "crash", map[string]any{"kind": "error"}}, code: 0, msg: `Started task "crash".`, sess: sess("starting", 2, 5)},
		{name: "25 CRASH", args: []any{"wait", "crash", map[string]any{}}, code: 0, msg: `Operation "crash" is currently not running (FAILED).`,
			sess: withMessages(sess("done", 6, 5), `Status is now "starting".`, `Status is now "running".`, "CRASH: disk on fire", `Status is now "done".`)},
		{name: "start panic", args: []any{"start", "crash", map[string]any{"kind": "panic"}}, code: 0, msg: `Started task "crash".`, sess: sess("starting", 2, 6)},
		{name: "25 panic is a CRASH", args: []any{"wait", "crash", map[string]any{}}, code: 0, msg: `Operation "crash" is currently not running (FAILED).`,
			sess: withMessages(sess("done", 6, 6), `Status is now "starting".`, `Status is now "running".`, "CRASH: panic: boom", `Status is now "done".`)},
		{name: "start param error", args: []any{"start", "crash", map[string]any{"kind": "param"}}, code: 0, msg: `Started task "crash".`, sess: sess("starting", 2, 7)},
		{name: "ParamError from the op is ERROR", args: []any{"wait", "crash", map[string]any{}}, code: 0, msg: `Operation "crash" is currently not running (FAILED).`,
			sess: withMessages(sess("done", 6, 7), `Status is now "starting".`, `Status is now "running".`,
				"ERROR: Param 'x' is required and must not be None", `Status is now "done".`)},
	}
	for _, st := range steps {
		if t.Failed() {
			return
		}
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before(t)
			}
			stepStart = time.Now()
			r := f.ops(t, st.args, st.kwargs)
			if d := time.Since(stepStart); d < st.minDur {
				t.Errorf("replied after %v, want at least %v", d, st.minDur)
			}
			if r.code != st.code || r.msg != st.msg {
				t.Errorf("reply (%d, %q), want (%d, %q)", r.code, r.msg, st.code, st.msg)
			}
			if st.sess == nil {
				if len(r.sess) != 0 {
					t.Errorf("session %v, want {}", r.sess)
				}
			} else {
				st.sess(t, r.sess)
			}
			if st.after != nil {
				st.after(t)
			}
		})
	}
}
