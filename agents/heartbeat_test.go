package agents_test

import (
	"sync"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents"
)

// eventLog records events of a test-client subscription with their
// arrival time.
type eventLog struct {
	mu     sync.Mutex
	events []*wamp.Event
	times  []time.Time
}

func (l *eventLog) add(ev *wamp.Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.times = append(l.times, time.Now())
	l.mu.Unlock()
}

func (l *eventLog) snapshot() ([]*wamp.Event, []time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*wamp.Event(nil), l.events...), append([]time.Time(nil), l.times...)
}

func (l *eventLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

// subscribeLog subscribes the test client and returns the event log.
func subscribeLog(t *testing.T, c *client.Client, topic string, match string) *eventLog {
	t.Helper()
	l := &eventLog{}
	opts := wamp.Dict{}
	if match != "" {
		opts[wamp.OptMatch] = match
	}
	if err := c.Subscribe(topic, l.add, opts); err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return l
}

// feedEvent splits an OCS feed event: exactly one argument, the pair
// [message, feed_info], and no keyword arguments.
func feedEvent(t *testing.T, ev *wamp.Event) (any, map[string]any) {
	t.Helper()
	if len(ev.Arguments) != 1 || len(ev.ArgumentsKw) != 0 {
		t.Fatalf("feed event args %v kwargs %v, want one argument and no kwargs", ev.Arguments, ev.ArgumentsKw)
	}
	pair, ok := ev.Arguments[0].([]any)
	if !ok || len(pair) != 2 {
		t.Fatalf("feed event argument %#v is not a pair", ev.Arguments[0])
	}
	info, ok := pair[1].(map[string]any)
	if !ok {
		t.Fatalf("feed_info %#v is not an object", pair[1])
	}
	return pair[0], info
}

// TestHeartbeat: first heartbeat at join, then every second, on
// <address>.feeds.heartbeat, args [[{op: op_code}, feed_info]], op_code 1
// for ops without a session; SetHeartbeat switches it (checklist 30, 31).
func TestHeartbeat(t *testing.T) {
	t.Parallel() // slow; ports are not reused
	tr := startRouter(t, "127.0.0.1:0")
	c := dialClient(t, tr, 0)
	hb := subscribeLog(t, c, testRoot+"..feeds.heartbeat", wamp.MatchWildcard)
	a, err := agents.New(agentCfg(tr, "hb"))
	if err != nil {
		t.Fatal(err)
	}
	release := newGate()
	defer release.open()
	for _, name := range []string{"zeta", "alpha"} {
		must(t, a.RegisterProcess(agents.OpSpec{Name: name, Run: func(s *agents.Session, _ agents.Params) (bool, string, error) {
			select {
			case <-release.ch:
			case <-s.Stopping():
			}
			return true, "ok", nil
		}}))
	}
	started := time.Now()
	ra := run(t, a)
	waitFor(t, 3*time.Second, "first heartbeat", func() bool { return hb.len() >= 1 })
	_, times := hb.snapshot()
	if d := times[0].Sub(started); d > 900*time.Millisecond {
		t.Errorf("first heartbeat %v after Run, want immediate", d)
	}
	ops(t, c, a.Address(), []any{"start", "alpha"}, nil)
	waitFor(t, 4*time.Second, "three heartbeats", func() bool { return hb.len() >= 3 })
	events, times := hb.snapshot()
	for i, ev := range events {
		if ev.Details["topic"] != a.Address()+".feeds.heartbeat" {
			t.Errorf("event %d topic %v", i, ev.Details["topic"])
		}
		msg, info := feedEvent(t, ev)
		checkFeedInfo(t, info, a.Address(), "heartbeat", false, map[string]any{}, ra.SessionID())
		codes, ok := msg.(map[string]any)
		if !ok || len(codes) != 2 {
			t.Fatalf("heartbeat message %#v", msg)
		}
		if z, _ := asInt(codes["zeta"]); z != 1 {
			t.Errorf("event %d: zeta %v, want 1 (no session)", i, codes["zeta"])
		}
		if i > 0 {
			if gap := times[i].Sub(times[i-1]); gap < 800*time.Millisecond || gap > 1200*time.Millisecond {
				t.Errorf("heartbeats %d and %d are %v apart, want 1 s", i-1, i, gap)
			}
		}
	}
	last, _ := feedEvent(t, events[len(events)-1])
	if c, _ := asInt(last.(map[string]any)["alpha"]); c != 3 {
		t.Errorf("alpha %v, want 3 (running)", last.(map[string]any)["alpha"])
	}

	a.SetHeartbeat(false)
	time.Sleep(100 * time.Millisecond) // a tick already under way may still arrive
	n := hb.len()
	quiet := time.Now().Add(1300 * time.Millisecond)
	for time.Now().Before(quiet) {
		if hb.len() != n {
			t.Fatalf("heartbeat published while switched off")
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.SetHeartbeat(true)
	waitFor(t, 2*time.Second, "heartbeat back on", func() bool { return hb.len() > n })
}
