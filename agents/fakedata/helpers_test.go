package fakedata_test

import (
	"context"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"
	"go.uber.org/goleak"

	"github.com/ocsflux/ocsflux/agents"
	"github.com/ocsflux/ocsflux/agents/fakedata"
	"github.com/ocsflux/ocsflux/agents/router"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testRoot = "observatory"

// testLogger discards logs unless OCSFLUX_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("OCSFLUX_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startRouter runs ocsflux's embedded router on a free loopback port until
// the test ends.
func startRouter(t *testing.T) *router.Router {
	t.Helper()
	r, err := router.New(router.Config{Listen: "127.0.0.1:0", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("router: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("router did not stop")
		}
	})
	select {
	case <-r.Ready():
	case err := <-done:
		t.Fatalf("router: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("router not ready")
	}
	return r
}

// fakeClock is a Clock that moves only when the test advances it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

// t0 is the fake clock's start: an integral Unix time, so that samples at
// integral times show whether floats stay floats.
var t0 = time.Unix(1795294463, 0)

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// forget drops the waiters of ops that have ended (their timers would
// otherwise count as pending in advance).
func (c *fakeClock) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waiters = nil
}

// pending counts the waiters that have not fired.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// advance waits until n waiters are pending (the ops under test are
// asleep), then moves the clock by d and fires the waiters that are due.
func (c *fakeClock) advance(t *testing.T, n int, d time.Duration) {
	t.Helper()
	waitFor(t, 5*time.Second, "ops waiting on the clock", func() bool { return c.pending() >= n })
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
}

// at returns the fake time t0 + s seconds as a float.
func at(s float64) float64 { return float64(t0.Unix()) + s }

// testAgent is a FakeDataAgent running against a router, with a test
// client.
type testAgent struct {
	*fakedata.Agent
	clock *fakeClock // nil: real time
	c     *client.Client
}

// agentSetup adjusts a test agent before it starts.
type agentSetup struct {
	opts      fakedata.Options
	realClock bool
	ser       serialize.Serialization // the test client's; default msgpack
	id        string
	// subscribe runs with the test client before the agent starts.
	subscribe func(c *client.Client)
}

// startAgent starts a FakeDataAgent (instance "fake-data1" unless set,
// seeded random walk, fake clock unless realClock) on r and connects a test
// client; both stop when the test ends.
func startAgent(t *testing.T, r *router.Router, s agentSetup) *testAgent {
	t.Helper()
	if s.opts == (fakedata.Options{}) {
		s.opts = fakedata.Defaults()
	}
	if s.id == "" {
		s.id = "fake-data1"
	}
	ta := &testAgent{c: dial(t, r, s.ser)}
	if s.subscribe != nil {
		s.subscribe(ta.c)
	}
	cfg := fakedata.Config{
		Agent: agents.Config{
			AddressRoot:     testRoot,
			InstanceID:      s.id,
			URL:             r.WSURL(),
			Realm:           r.Realm(),
			Hostname:        "testhost",
			PID:             4242,
			StopTimeout:     3 * time.Second,
			ResponseTimeout: 3 * time.Second,
			Logger:          testLogger(),
		},
		Options: s.opts,
		Rand:    rand.New(rand.NewPCG(1, 2)),
	}
	if !s.realClock {
		ta.clock = newFakeClock()
		cfg.Clock = ta.clock
	}
	a, err := fakedata.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ta.Agent = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return")
		}
	})
	waitFor(t, 10*time.Second, a.Address()+" registered", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := ta.c.Call(ctx, a.Address(), nil, []any{"get_agent_class"}, nil, nil)
		return err == nil
	})
	return ta
}

// dial connects a test client (msgpack unless ser says otherwise).
func dial(t *testing.T, r *router.Router, ser serialize.Serialization) *client.Client {
	t.Helper()
	if ser == serialize.AUTO {
		ser = serialize.MSGPACK
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.ConnectNet(ctx, r.WSURL(), client.Config{
		Realm: r.Realm(), Serialization: ser, ResponseTimeout: 5 * time.Second,
		Logger: log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatalf("test client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// opsReply is a decoded .ops reply.
type opsReply struct {
	code int64
	msg  string
	sess map[string]any
}

// ops calls the agent's .ops procedure: action, op name, params.
func (ta *testAgent) ops(t *testing.T, action, op string, params map[string]any) opsReply {
	t.Helper()
	args := []any{action, op}
	if params != nil {
		args = append(args, params)
	}
	return ta.opsArgs(t, args...)
}

// opsArgs calls the agent's .ops procedure with these positional arguments.
func (ta *testAgent) opsArgs(t *testing.T, args ...any) opsReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := ta.c.Call(ctx, ta.Address()+".ops", nil, args, nil, nil)
	if err != nil {
		t.Fatalf(".ops %v: %v", args, err)
	}
	if len(res.Arguments) != 1 || len(res.ArgumentsKw) != 0 {
		t.Fatalf(".ops %v: want one positional result, got %v %v", args, res.Arguments, res.ArgumentsKw)
	}
	l, ok := res.Arguments[0].([]any)
	if !ok || len(l) != 3 {
		t.Fatalf(".ops %v: want a 3-list, got %#v", args, res.Arguments[0])
	}
	code, ok1 := asInt(l[0])
	msg, ok2 := l[1].(string)
	sess, ok3 := l[2].(map[string]any)
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf(".ops %v: want [int, string, object], got %#v", args, l)
	}
	return opsReply{code, msg, sess}
}

// expect checks an .ops reply's code and message.
func (r opsReply) expect(t *testing.T, code int64, msg string) opsReply {
	t.Helper()
	if r.code != code || r.msg != msg {
		t.Errorf("reply (%d, %q), want (%d, %q)", r.code, r.msg, code, msg)
	}
	return r
}

// waitSession polls op's status until cond holds for its session.
func (ta *testAgent) waitSession(t *testing.T, op, what string, cond func(s map[string]any) bool) map[string]any {
	t.Helper()
	var sess map[string]any
	waitFor(t, 5*time.Second, op+": "+what, func() bool {
		sess = ta.ops(t, "status", op, nil).sess
		return len(sess) > 0 && cond(sess)
	})
	return sess
}

// wait calls wait on op (no timeout: until it is done) and returns the
// reply.
func (ta *testAgent) wait(t *testing.T, op string) opsReply {
	t.Helper()
	return ta.opsArgs(t, "wait", op)
}

// mgmt calls the agent's management procedure with q.
func (ta *testAgent) mgmt(t *testing.T, q string) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := ta.c.Call(ctx, ta.Address(), nil, []any{q}, nil, nil)
	if err != nil {
		t.Fatalf("%s(%q): %v", ta.Address(), q, err)
	}
	if len(res.Arguments) != 1 {
		t.Fatalf("%s(%q): want one result, got %v", ta.Address(), q, res.Arguments)
	}
	return res.Arguments[0]
}

// eventLog records the events of a test-client subscription.
type eventLog struct {
	mu     sync.Mutex
	events []*wamp.Event
}

func (l *eventLog) add(ev *wamp.Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

func (l *eventLog) snapshot() []*wamp.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*wamp.Event(nil), l.events...)
}

func (l *eventLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

// subscribe subscribes c to topic (exact match) and returns the log.
func subscribe(t *testing.T, c *client.Client, topic string) *eventLog {
	t.Helper()
	l := &eventLog{}
	if err := c.Subscribe(topic, l.add, nil); err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return l
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		return int64(x), true
	case int:
		return int64(x), true
	}
	return 0, false
}
