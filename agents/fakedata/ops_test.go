package fakedata_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents"
	"github.com/ocsflux/ocsflux/agents/fakedata"
)

// TestParamErrors: every op's declared params are checked at start with
// OCS's texts (checklist 28); the last-declared bad param is reported; no
// session is created. count declares none and accepts anything.
func TestParamErrors(t *testing.T) {
	r := startRouter(t)
	ta := startAgent(t, r, agentSetup{})
	for _, tc := range []struct {
		op     string
		params map[string]any
		want   string
	}{
		{"acq", map[string]any{"test_mode": "yes"}, "Param 'test_mode'=yes is not of required type (<class 'bool'>)"},
		{"acq", map[string]any{"test_mode": 1}, "Param 'test_mode'=1 is not of required type (<class 'bool'>)"},
		{"acq", map[string]any{"degradation_period": "fast"}, "Param 'degradation_period'=fast is not of required type (<class 'float'>)"},
		{"acq", map[string]any{"test_mode": "yes", "degradation_period": "fast"}, "Param 'degradation_period'=fast is not of required type (<class 'float'>)"},
		{"acq", map[string]any{"bogus": 1}, "params included unexpected values: ['bogus']"},
		{"set_heartbeat", map[string]any{"heartbeat": 1}, "Param 'heartbeat'=1 is not of required type (<class 'bool'>)"},
		{"set_heartbeat", map[string]any{"heartbeat": "off"}, "Param 'heartbeat'=off is not of required type (<class 'bool'>)"},
		{"delay_task", map[string]any{"delay": -1}, "Param 'delay' failed validity check (see docs?)."},
		{"delay_task", map[string]any{"delay": -0.5}, "Param 'delay' failed validity check (see docs?)."},
		{"delay_task", map[string]any{"delay": "x"}, "Param 'delay'=x is not of required type (<class 'float'>)"},
		{"delay_task", map[string]any{"succeed": "no"}, "Param 'succeed'=no is not of required type (<class 'bool'>)"},
		{"delay_task", map[string]any{"delay": -1, "succeed": "no"}, "Param 'succeed'=no is not of required type (<class 'bool'>)"},
		{"delay_task", map[string]any{"delay": 1, "a": 1, "b": 2}, "params included unexpected values: ['a', 'b']"},
	} {
		rep := ta.ops(t, "start", tc.op, tc.params)
		if rep.code != -1 || rep.msg != tc.want || len(rep.sess) != 0 {
			t.Errorf("start %s %v: (%d, %q, %v), want (-1, %q, {})", tc.op, tc.params, rep.code, rep.msg, rep.sess, tc.want)
		}
		ta.ops(t, "status", tc.op, nil).expect(t, 0, "No session active.")
	}
	// count has no declarations: any params object is passed through.
	ta.ops(t, "start", "count", map[string]any{"anything": 1}).expect(t, 0, `Started process "count".`)
}

// TestCount: count sets {"counter": 0, "last_update": t} and counts once
// per second until stopped; stop/abort/wait replies.
func TestCount(t *testing.T) {
	r := startRouter(t)
	ta := startAgent(t, r, agentSetup{})
	ta.ops(t, "stop", "count", nil).expect(t, -1, "No session active.")
	ta.ops(t, "wait", "count", nil).expect(t, 0, "Idle.")
	rep := ta.ops(t, "start", "count", nil).expect(t, 0, `Started process "count".`)
	if id, _ := asInt(rep.sess["session_id"]); id != 0 || rep.sess["op_name"] != "count" {
		t.Errorf("start session %v", rep.sess)
	}
	ta.ops(t, "start", "count", nil).expect(t, -1, `Operation "count" already in progress.`)
	ta.ops(t, "abort", "count", nil).expect(t, -1, `Cannot "abort" "count" because it is a "{op_type}".`)
	for i := range 3 {
		if i > 0 {
			ta.clock.advance(t, 1, time.Second)
		}
		want := at(float64(i))
		s := ta.waitSession(t, "count", "counter", func(s map[string]any) bool {
			c, _ := asInt(s["data"].(map[string]any)["counter"])
			return s["status"] == "running" && c == int64(i)
		})
		d := s["data"].(map[string]any)
		if d["last_update"] != want || len(d) != 2 {
			t.Errorf("count data %#v, want counter %d and last_update %v (a float)", d, i, want)
		}
	}
	ta.ops(t, "stop", "count", nil).expect(t, 0, `Requested stop on process count".`)
	done := ta.wait(t, "count").expect(t, 0, `Operation "count" is currently not running (SUCCEEDED).`)
	if m := opMessage(t, done.sess); m != "Exited on request." {
		t.Errorf("count ended with %q", m)
	}
	ta.ops(t, "stop", "count", nil).expect(t, -1, "The operation is already done")
}

// TestAcqReplies: acq's start/stop/abort/wait replies and its stop.
func TestAcqReplies(t *testing.T) {
	r := startRouter(t)
	ta := startAgent(t, r, agentSetup{})
	ta.ops(t, "start", "acq", map[string]any{}).expect(t, 0, `Started process "acq".`)
	ta.ops(t, "start", "acq", nil).expect(t, -1, `Operation "acq" already in progress.`)
	ta.ops(t, "abort", "acq", nil).expect(t, -1, `Cannot "abort" "acq" because it is a "{op_type}".`)
	s := ta.waitSession(t, "acq", "running", func(s map[string]any) bool { return s["status"] == "running" })
	if c, _ := asInt(s["op_code"]); c != 3 || s["degraded"] != false || len(s["data"].(map[string]any)) != 0 {
		t.Errorf("running session before the first report %v, want op_code 3, not degraded, data {}", s)
	}
	ta.opsArgs(t, "wait", "acq", nil, 0).expect(t, 1, `Operation "acq" still running; wait timed out.`)
	ta.ops(t, "stop", "acq", nil).expect(t, 0, `Requested stop on process acq".`)
	done := ta.wait(t, "acq").expect(t, 0, `Operation "acq" is currently not running (SUCCEEDED).`)
	if m := opMessage(t, done.sess); m != "Acquisition exited cleanly." {
		t.Errorf("acq ended with %q", m)
	}
	// Restart: a new session id. The first session's timer is abandoned:
	// the advance below must wait for the new session's.
	ta.clock.forget()
	rep := ta.ops(t, "start", "acq", map[string]any{"test_mode": true}).expect(t, 0, `Started process "acq".`)
	if id, _ := asInt(rep.sess["session_id"]); id != 1 {
		t.Errorf("second acq session_id %v, want 1", rep.sess["session_id"])
	}
	ta.clock.advance(t, 1, time.Second)
	ta.wait(t, "acq").expect(t, 0, `Operation "acq" is currently not running (SUCCEEDED).`)
}

// TestDelayTask: data {"requested_delay", "delay_so_far"} updated every
// 0.5 s; success = succeed with 'Exited after X.X seconds'; an abort ends
// it with success false and 'Aborted after X.X seconds'. Under access
// policy "none" (credential level 1) delay 3.33 is an ordinary delay: the
// level-2 test hook of the Python agent does not apply.
func TestDelayTask(t *testing.T) {
	r := startRouter(t)
	ta := startAgent(t, r, agentSetup{})
	progress := func(want float64) {
		t.Helper()
		ta.waitSession(t, "delay_task", "delay_so_far", func(s map[string]any) bool {
			d := s["data"].(map[string]any)
			so, ok := d["delay_so_far"].(float64)
			return ok && so == want && len(d) == 2
		})
	}

	// Default succeed; an integer delay arrives as a float.
	rep := ta.ops(t, "start", "delay_task", map[string]any{"delay": 1}).expect(t, 0, `Started task "delay_task".`)
	if rep.sess["status"] != "starting" {
		t.Errorf("start session %v", rep.sess)
	}
	ta.ops(t, "stop", "delay_task", nil).expect(t, -1, `Cannot "stop" "delay_task" because it is a "{op_type}".`)
	progress(0)
	s := ta.ops(t, "status", "delay_task", nil).sess
	if d := s["data"].(map[string]any)["requested_delay"]; d != 1.0 {
		t.Errorf("requested_delay %#v, want 1.0 (a float)", d)
	}
	ta.clock.advance(t, 1, 500*time.Millisecond)
	progress(0.5)
	ta.clock.advance(t, 1, 500*time.Millisecond)
	done := ta.wait(t, "delay_task").expect(t, 0, `Operation "delay_task" is currently not running (SUCCEEDED).`)
	if m := opMessage(t, done.sess); m != "Exited after 1.0 seconds" {
		t.Errorf("delay_task ended with %q", m)
	}
	ta.ops(t, "abort", "delay_task", nil).expect(t, -1, "The operation is already done")

	// succeed=false, a remainder below 0.5 s, and the 3.33 s hook not
	// triggering at level 1.
	ta.ops(t, "start", "delay_task", map[string]any{"delay": 0.7, "succeed": false}).expect(t, 0, `Started task "delay_task".`)
	progress(0)
	ta.clock.advance(t, 1, 500*time.Millisecond)
	progress(0.5)
	ta.clock.advance(t, 1, 200*time.Millisecond)
	done = ta.wait(t, "delay_task").expect(t, 0, `Operation "delay_task" is currently not running (FAILED).`)
	if m := opMessage(t, done.sess); m != "Exited after 0.7 seconds" || done.sess["success"] != false {
		t.Errorf("delay_task ended with %q, success %v", m, done.sess["success"])
	}
	ta.ops(t, "start", "delay_task", map[string]any{"delay": 0}).expect(t, 0, `Started task "delay_task".`)
	done = ta.wait(t, "delay_task").expect(t, 0, `Operation "delay_task" is currently not running (SUCCEEDED).`)
	if m := opMessage(t, done.sess); m != "Exited after 0.0 seconds" {
		t.Errorf("delay_task ended with %q", m)
	}

	ta.ops(t, "start", "delay_task", map[string]any{"delay": 3.33}).expect(t, 0, `Started task "delay_task".`)
	progress(0)
	ta.clock.advance(t, 1, 500*time.Millisecond)
	progress(0.5)
	ta.clock.advance(t, 1, 500*time.Millisecond)
	progress(1)
	s = ta.ops(t, "abort", "delay_task", nil).expect(t, 0, `Requested abort on task delay_task".`).sess
	if s["status"] != "running" {
		t.Errorf("abort reply shows status %v, want the session before the abort", s["status"])
	}
	done = ta.wait(t, "delay_task").expect(t, 0, `Operation "delay_task" is currently not running (FAILED).`)
	if m := opMessage(t, done.sess); m != "Aborted after 1.0 seconds" || done.sess["success"] != false {
		t.Errorf("aborted delay_task ended with %q, success %v", m, done.sess["success"])
	}
	d := done.sess["data"].(map[string]any)
	if d["requested_delay"] != 3.33 || d["delay_so_far"] != 1.0 {
		t.Errorf("aborted delay_task data %v", d)
	}
	if id, _ := asInt(done.sess["session_id"]); id != 3 {
		t.Errorf("fourth session_id %v, want 3", done.sess["session_id"])
	}
}

// TestSetHeartbeat: set_heartbeat(heartbeat=False) stops the heartbeat
// feed, set_heartbeat() starts it again; the heartbeat carries one op code
// per op (checklist 30).
func TestSetHeartbeat(t *testing.T) {
	t.Parallel() // real heartbeats: ~4 s
	r := startRouter(t)
	var hb *eventLog
	ta := startAgent(t, r, agentSetup{subscribe: func(c *client.Client) {
		hb = subscribe(t, c, testRoot+".fake-data1.feeds.heartbeat")
	}})
	waitFor(t, 3*time.Second, "a heartbeat", func() bool { return hb.len() >= 1 })
	codes := heartbeat(t, ta, hb.snapshot()[0])
	for _, op := range []string{"acq", "count", "set_heartbeat", "delay_task"} {
		if c, _ := asInt(codes[op]); c != 1 {
			t.Errorf("heartbeat %s = %v, want 1 (no session)", op, codes[op])
		}
	}

	ta.ops(t, "stop", "set_heartbeat", nil).expect(t, -1, `Cannot "stop" "set_heartbeat" because it is a "{op_type}".`)
	ta.ops(t, "start", "set_heartbeat", map[string]any{"heartbeat": false}).expect(t, 0, `Started task "set_heartbeat".`)
	done := ta.wait(t, "set_heartbeat").expect(t, 0, `Operation "set_heartbeat" is currently not running (SUCCEEDED).`)
	if m := opMessage(t, done.sess); m != "Set heartbeat_on: False" {
		t.Errorf("set_heartbeat ended with %q", m)
	}
	// Over 2.5 s at most one beat that was already under way arrives
	// (on, there would be two or three).
	n := hb.len()
	time.Sleep(2500 * time.Millisecond) // an observation window, not a settle
	if got := hb.len() - n; got > 1 {
		t.Errorf("%d heartbeats while switched off", got)
	}
	n = hb.len()
	ta.ops(t, "start", "set_heartbeat", nil).expect(t, 0, `Started task "set_heartbeat".`)
	done = ta.wait(t, "set_heartbeat").expect(t, 0, `Operation "set_heartbeat" is currently not running (SUCCEEDED).`)
	if m := opMessage(t, done.sess); m != "Set heartbeat_on: True" {
		t.Errorf("set_heartbeat ended with %q", m)
	}
	ta.ops(t, "abort", "set_heartbeat", nil).expect(t, -1, "The operation is already done")
	waitFor(t, 3*time.Second, "heartbeats again", func() bool { return hb.len() > n })
	codes = heartbeat(t, ta, hb.snapshot()[hb.len()-1])
	if c, _ := asInt(codes["set_heartbeat"]); c != 5 {
		t.Errorf("heartbeat set_heartbeat = %v, want 5 (succeeded)", codes["set_heartbeat"])
	}
}

// heartbeat checks a heartbeat event of the agent and returns its op codes:
// [{op: code}, feed_info] with exactly the four ops.
func heartbeat(t *testing.T, ta *testAgent, ev *wamp.Event) map[string]any {
	t.Helper()
	if len(ev.Arguments) != 1 || len(ev.ArgumentsKw) != 0 {
		t.Fatalf("heartbeat args %v kwargs %v", ev.Arguments, ev.ArgumentsKw)
	}
	pair, ok := ev.Arguments[0].([]any)
	if !ok || len(pair) != 2 {
		t.Fatalf("heartbeat argument %#v", ev.Arguments[0])
	}
	info, _ := pair[1].(map[string]any)
	checkFeedInfo(t, ta, info, "heartbeat", false, -1)
	codes, _ := pair[0].(map[string]any)
	if got := mapKeys(codes); !slices.Equal(got, []string{"acq", "count", "delay_task", "set_heartbeat"}) {
		t.Errorf("heartbeat ops %v", got)
	}
	return codes
}

// TestConfig: New rejects another agent class and bad options; channel
// names follow Python's 'channel_%02i'.
func TestConfig(t *testing.T) {
	base := fakedata.Config{
		Agent:   agents.Config{AddressRoot: testRoot, InstanceID: "fd", URL: "ws://127.0.0.1:1/ws", Realm: "test_realm", Logger: testLogger()},
		Options: fakedata.Defaults(),
	}
	if _, err := fakedata.New(base); err != nil {
		t.Errorf("New: %v", err)
	}
	c := base
	c.Agent.AgentClass = "FakeDataAgent"
	if _, err := fakedata.New(c); err != nil {
		t.Errorf("New with the agent class set: %v", err)
	}
	c.Agent.AgentClass = "InfluxDBAgent"
	if _, err := fakedata.New(c); err == nil || !strings.Contains(err.Error(), "InfluxDBAgent") {
		t.Errorf("New with another class: %v", err)
	}
	c = base
	c.Options.Mode = "record"
	if _, err := fakedata.New(c); err == nil || !strings.Contains(err.Error(), "--mode") {
		t.Errorf("New with a bad mode: %v", err)
	}
	c = base
	c.Agent.InstanceID = ""
	if _, err := fakedata.New(c); err == nil {
		t.Error("New without instance id: no error")
	}
	if got := fakedata.ChannelNames(0); len(got) != 0 {
		t.Errorf("ChannelNames(0) = %v", got)
	}
	got := fakedata.ChannelNames(101)
	if got[0] != "channel_00" || got[9] != "channel_09" || got[10] != "channel_10" || got[100] != "channel_100" || len(got) != 101 {
		t.Errorf("ChannelNames(101) = %v ... %v", got[:11], got[100:])
	}
}
