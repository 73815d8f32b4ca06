package agents_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents"
)

// topicLog collects the concrete topics an agent subscription received.
type topicLog struct {
	mu     sync.Mutex
	topics []string
}

func (l *topicLog) handler(ev *agents.Event) {
	l.mu.Lock()
	l.topics = append(l.topics, ev.Topic)
	l.mu.Unlock()
}

func (l *topicLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.topics...)
}

// TestSubscribeMatching: exact, prefix and wildcard subscriptions receive
// what WAMP says they match, with the concrete topic; the agent does not
// receive its own publications (checklist 4, 5 from the agent's side).
//
// Each publication matches at most one subscription: stock nexus v3.3.0
// shares one details map between the events of a publication and writes
// details.topic into it per pattern subscription while other events are
// being serialized (a data race the race detector reports).
func TestSubscribeMatching(t *testing.T) {
	exact, prefix, wild, hb := &topicLog{}, &topicLog{}, &topicLog{}, &topicLog{}
	var ownFeed *agents.Feed
	f := newFixture(t, nil, func(a *agents.Agent) {
		var err error
		_, err = a.Subscribe("ex.x.feeds.y", agents.MatchExact, exact.handler)
		must(t, err)
		_, err = a.Subscribe("pfx.x.", agents.MatchPrefix, prefix.handler)
		must(t, err)
		_, err = a.SubscribeQueued("wc..feeds.", agents.MatchWildcard, 16, wild.handler)
		must(t, err)
		_, err = a.Subscribe(testRoot+"..feeds.heartbeat", agents.MatchWildcard, hb.handler)
		must(t, err)
		ownFeed, err = a.RegisterFeed(agents.FeedSpec{Name: "own"})
		must(t, err)
		if _, err := a.Subscribe("wc..feeds.", agents.MatchWildcard, wild.handler); err == nil {
			t.Error("duplicate subscription accepted")
		}
		if _, err := a.Subscribe("wc..feeds.", "fuzzy", wild.handler); err == nil {
			t.Error("unknown match policy accepted")
		}
	})
	pub := dialClient(t, f.tr, 0)
	topics := []string{
		"ex.x.feeds.y", "ex.x.feeds.z", // exact: the first
		"pfx.x.feeds.z", "pfx.x.a", "pfx.x", "pfx.xy.a", // prefix: the first two
		"wc.a.feeds.b", "wc.a.b.feeds.c", "other.a.feeds.b", "wc.a.feeds", // wildcard: the first
		testRoot + ".other-agent.feeds.heartbeat", // the heartbeat pattern
	}
	for _, tp := range topics {
		if err := pub.Publish(tp, nil, wamp.List{wamp.List{map[string]any{}, map[string]any{}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	must(t, ownFeed.Publish(map[string]any{"mine": true}))
	if err := pub.Publish("pfx.x.last", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "last event", func() bool {
		p := prefix.get()
		return len(p) > 0 && p[len(p)-1] == "pfx.x.last"
	})
	waitFor(t, 5*time.Second, "wildcard event", func() bool { return len(wild.get()) == 1 })
	check := func(name string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s received %v, want %v", name, got, want)
		}
	}
	check("exact", exact.get(), "ex.x.feeds.y")
	check("prefix", prefix.get(), "pfx.x.feeds.z", "pfx.x.a", "pfx.x.last")
	check("wildcard", wild.get(), "wc.a.feeds.b")
	waitFor(t, 3*time.Second, "other agent's heartbeat", func() bool { return len(hb.get()) >= 1 })
	for _, tp := range hb.get() {
		if tp == f.addr+".feeds.heartbeat" {
			t.Errorf("the agent received its own heartbeat")
		}
	}
	check("heartbeat pattern", hb.get()[:1], testRoot+".other-agent.feeds.heartbeat")
}

// TestSubscribeQueuedDrops: a slow queued handler never blocks the WAMP
// receive loop (RPCs are still answered) and drops are counted.
func TestSubscribeQueuedDrops(t *testing.T) {
	block := newGate()
	defer block.open()
	var handled atomic.Int64
	var sub, inline *agents.Subscription
	var inlineSeen sync.Map
	f := newFixture(t, nil, func(a *agents.Agent) {
		var err error
		sub, err = a.SubscribeQueued("test.slow", agents.MatchExact, 2, func(ev *agents.Event) {
			<-block.ch
			handled.Add(1)
		})
		must(t, err)
		inline, err = a.Subscribe("test.panic", agents.MatchExact, func(ev *agents.Event) {
			inlineSeen.Store(ev.Args[0], true)
			panic("handler bug")
		})
		must(t, err)
	})
	pub := dialClient(t, f.tr, 0)
	const n = 20
	for i := 0; i < n; i++ {
		if err := pub.Publish("test.slow", nil, wamp.List{i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish("test.panic", nil, wamp.List{"p"}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "all events received", func() bool { return sub.Received() == n && inline.Received() == 1 })
	// The receive loop is free: RPCs work while the handler is stuck.
	if r := f.ops(t, []any{"status", "record"}, nil); r.msg != "No session active." {
		t.Errorf("status while a handler blocks: %v", r.msg)
	}
	// At most one event is in the handler and two are queued; the rest
	// were dropped.
	d := sub.Dropped()
	if d < n-3 || d > n-2 {
		t.Errorf("dropped %d, want %d or %d", d, n-3, n-2)
	}
	block.open()
	waitFor(t, 5*time.Second, "queued events handled", func() bool { return handled.Load() == int64(n)-int64(d) })
	if _, ok := inlineSeen.Load("p"); !ok {
		t.Error("inline handler did not run")
	}
	if r := f.ops(t, []any{"status", "record"}, nil); r.msg != "No session active." {
		t.Errorf("agent unusable after a handler panic: %v", r.msg)
	}
}
