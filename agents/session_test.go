package agents_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/transport/serialize"

	"github.com/ocsflux/ocsflux/agents"
)

// TestStatusTransitionsAndMessages: status moves only forward, each change
// appends `Status is now "<status>".`, the first message's timestamp is
// start_time and end_time is the done message's timestamp; the op's return
// message comes before done (checklist 22, 25).
func TestStatusTransitionsAndMessages(t *testing.T) {
	errs := make(chan error, 4)
	f := newFixture(t, nil, func(a *agents.Agent) {
		must(t, a.RegisterTask(agents.OpSpec{
			Name: "steps",
			Run: func(s *agents.Session, _ agents.Params) (bool, string, error) {
				errs <- s.SetStatus(agents.StatusRunning)  // same status: nothing
				errs <- s.SetStatus(agents.StatusStopping) // forward
				errs <- s.SetStatus(agents.StatusRunning)  // backward: error
				errs <- s.SetStatus(agents.StatusDone)     // not for ops
				return true, "all done", nil
			},
		}))
	})
	r := f.ops(t, []any{"start", "steps", map[string]any{}}, nil)
	if r.code != 0 {
		t.Fatalf("start: %v", r.msg)
	}
	w := f.ops(t, []any{"wait", "steps", map[string]any{}}, nil)
	withMessages(sess("done", 5, 0), `Status is now "starting".`, `Status is now "running".`, `Status is now "stopping".`,
		"all done", `Status is now "done".`)(t, w.sess)
	for i, wantErr := range []bool{false, false, true, true} {
		if err := <-errs; (err != nil) != wantErr {
			t.Errorf("SetStatus call %d: err %v", i, err)
		}
	}
	msgs := w.sess["messages"].([]any)
	first, _ := asFloat(msgs[0].([]any)[0])
	last, _ := asFloat(msgs[len(msgs)-1].([]any)[0])
	start, _ := asFloat(w.sess["start_time"])
	end, _ := asFloat(w.sess["end_time"])
	if first != start {
		t.Errorf("first message at %v, start_time %v", first, start)
	}
	if last != end {
		t.Errorf("done message at %v, end_time %v", last, end)
	}
	prev := 0.0
	for _, m := range msgs {
		ts, _ := asFloat(m.([]any)[0])
		if ts < prev {
			t.Errorf("message times go backwards: %v", msgs)
		}
		prev = ts
	}
}

// TestOpCodes: starting 2, running 3, running+degraded 8, stopping 4 even
// when degraded, done 5/6 (checklist 23).
func TestOpCodes(t *testing.T) {
	f := newFixture(t, nil, nil)
	if r := f.ops(t, []any{"start", "data"}, nil); r.code != 0 {
		t.Fatalf("start: %v", r.msg)
	}
	f.waitStatus(t, "data", "running")
	if r := f.ops(t, []any{"status", "data"}, nil); r.sess["degraded"] != false {
		t.Fatalf("degraded before: %v", r.sess)
	} else {
		sess("running", 3, 0)(t, r.sess)
	}
	f.degrade.open()
	waitFor(t, 5*time.Second, "degraded", func() bool {
		return f.ops(t, []any{"status", "data"}, nil).sess["degraded"] == true
	})
	sess("running", 8, 0)(t, f.ops(t, []any{"status", "data"}, nil).sess)
	stop := f.ops(t, []any{"stop", "data"}, nil)
	sess("running", 8, 0)(t, stop.sess)
	w := f.ops(t, []any{"wait", "data"}, map[string]any{"timeout": 5})
	sess("done", 5, 0)(t, w.sess)
	if w.sess["degraded"] != true {
		t.Errorf("degraded flag lost: %v", w.sess)
	}
	// failed: 6
	f.ops(t, []any{"start", "delay_task", map[string]any{"delay": 0, "succeed": false}}, nil)
	sess("done", 6, 1)(t, f.ops(t, []any{"wait", "delay_task"}, nil).sess)
}

// TestStoppingWhileDegraded: a degraded op that is stopping reports 4.
func TestStoppingWhileDegraded(t *testing.T) {
	release := newGate()
	f := newFixture(t, nil, func(a *agents.Agent) {
		must(t, a.RegisterProcess(agents.OpSpec{
			Name: "sick",
			Run: func(s *agents.Session, _ agents.Params) (bool, string, error) {
				s.SetDegraded(true)
				<-s.Stopping()
				<-release.ch
				return true, "ok", nil
			},
		}))
	})
	defer release.open()
	f.ops(t, []any{"start", "sick"}, nil)
	waitFor(t, 5*time.Second, "degraded", func() bool {
		c, _ := asInt(f.ops(t, []any{"status", "sick"}, nil).sess["op_code"])
		return c == 8
	})
	f.ops(t, []any{"stop", "sick"}, nil)
	sess("stopping", 4, 0)(t, f.ops(t, []any{"status", "sick"}, nil).sess)
}

// TestSessionIDCounter: one counter from 0 across ops; start-up ops take
// ids in registration order; rejected starts take none (checklist 24).
func TestSessionIDCounter(t *testing.T) {
	f := newFixture(t, nil, func(a *agents.Agent) {
		for _, name := range []string{"acq", "count"} {
			must(t, a.RegisterProcess(agents.OpSpec{
				Name: name, Startup: true,
				Params: []agents.Param{{Key: "test_mode", Type: agents.Bool, Default: false, HasDefault: true}},
				Run: func(s *agents.Session, p agents.Params) (bool, string, error) {
					<-s.Stopping()
					return true, "stopped", nil
				},
			}))
		}
		must(t, a.RegisterTask(agents.OpSpec{
			Name: "later", Startup: true, StartupParams: map[string]any{"n": 7},
			Params: []agents.Param{{Key: "n", Type: agents.Int}},
			Run: func(s *agents.Session, p agents.Params) (bool, string, error) {
				return true, fmt.Sprintf("n=%d", p.Int("n")), nil
			},
		}))
	})
	for op, id := range map[string]int64{"acq": 0, "count": 1, "later": 2} {
		r := f.ops(t, []any{"status", op}, nil)
		if got, _ := asInt(r.sess["session_id"]); r.code != 0 || got != id {
			t.Errorf("%s: session %v, want session_id %d", op, r.sess, id)
		}
	}
	if w := f.ops(t, []any{"wait", "later"}, nil); messageTexts(w.sess)[2] != "n=7" {
		t.Errorf("startup params not passed: %v", messageTexts(w.sess))
	}
	f.ops(t, []any{"start", "delay_task", map[string]any{"bogus": 1}}, nil) // rejected
	r := f.ops(t, []any{"start", "delay_task", map[string]any{"delay": 0}}, nil)
	if got, _ := asInt(r.sess["session_id"]); got != 3 {
		t.Errorf("next accepted start has session_id %v, want 3", r.sess["session_id"])
	}
}

// TestSessionDataJSONSafe: NaN and ±Inf in data become null, nested too;
// data never makes an RPC fail, whatever the client's serializer
// (checklist 27).
func TestSessionDataJSONSafe(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.ops(t, []any{"start", "data"}, nil)
	f.waitStatus(t, "data", "running")
	for name, ser := range map[string]serialize.Serialization{"json": serialize.JSON, "msgpack": serialize.MSGPACK, "cbor": serialize.CBOR} {
		c := dialClient(t, f.tr, ser)
		var d map[string]any
		waitFor(t, 5*time.Second, "data set", func() bool {
			d = ops(t, c, f.addr, []any{"status", "data"}, nil).sess["data"].(map[string]any)
			return len(d) > 0
		})
		for _, k := range []string{"nan", "inf", "ninf", "x"} {
			if v, ok := d[k]; !ok || v != nil {
				t.Errorf("%s: data[%s] = %#v, want null", name, k, v)
			}
		}
		l := d["list"].([]any)
		if len(l) != 3 || l[1] != nil {
			t.Errorf("%s: list %#v", name, l)
		}
		if v, _ := asFloat(l[2]); v != 2.5 {
			t.Errorf("%s: list %#v", name, l)
		}
		n := d["nested"].(map[string]any)
		if i, _ := asInt(n["i"]); n["v"] != nil || i != 3 || n["s"] != "x" {
			t.Errorf("%s: nested %#v", name, n)
		}
		api := mgmt(t, c, f.addr, "get_api").(map[string]any)
		if len(api["processes"].([]any)) != 3 {
			t.Errorf("%s: get_api with NaN data: %v", name, api["processes"])
		}
	}
}

// TestMessagePurge: the log keeps at most 10 000 entries, and the periodic
// purge drops entries older than 3600 s while more than 5 remain
// (checklist 26).
func TestMessagePurge(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).UnixNano())
	cmds := make(chan func(s *agents.Session))
	done := make(chan struct{})
	var ag *agents.Agent
	f := newFixture(t, func(cfg *agents.Config) {}, func(a *agents.Agent) {
		ag = a
		agents.SetClock(a, func() time.Time { return time.Unix(0, clock.Load()) })
		must(t, a.RegisterProcess(agents.OpSpec{
			Name: "chatty",
			Run: func(s *agents.Session, _ agents.Params) (bool, string, error) {
				for {
					select {
					case cmd := <-cmds:
						cmd(s)
						done <- struct{}{}
					case <-s.Stopping():
						return true, "bye", nil
					}
				}
			},
		}))
	})
	f.ops(t, []any{"start", "chatty"}, nil)
	do := func(cmd func(s *agents.Session)) {
		select {
		case cmds <- cmd:
			<-done
		case <-time.After(30 * time.Second):
			t.Fatal("op did not take the command")
		}
	}
	do(func(s *agents.Session) {
		for i := 0; i < 10010; i++ {
			s.AddMessage(fmt.Sprintf("m%d", i))
		}
	})
	texts := messageTexts(f.ops(t, []any{"status", "chatty"}, nil).sess)
	if len(texts) != 10000 || texts[0] != "m10" || texts[9999] != "m10009" {
		t.Fatalf("after 10012 messages: %d kept, first %q, last %q", len(texts), texts[0], texts[len(texts)-1])
	}
	clock.Add(int64(3601 * time.Second))
	do(func(s *agents.Session) { s.AddMessage("late") })
	if n := len(messageTexts(f.ops(t, []any{"status", "chatty"}, nil).sess)); n != 10000 {
		t.Fatalf("before the periodic purge: %d messages", n)
	}
	agents.PurgeMessages(ag)
	texts = messageTexts(f.ops(t, []any{"status", "chatty"}, nil).sess)
	want := []string{"m10006", "m10007", "m10008", "m10009", "late"}
	if fmt.Sprint(texts) != fmt.Sprint(want) {
		t.Errorf("after the purge %q, want %q", texts, want)
	}
}
