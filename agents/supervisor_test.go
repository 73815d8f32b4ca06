package agents_test

import (
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/router"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents"
	"github.com/ocsflux/ocsflux/internal/proc"
)

// registrationLog records the procedures created on a router, in order,
// through a local client subscribed to wamp.registration.on_create before
// the router accepts connections.
type registrationLog struct {
	mu   sync.Mutex
	uris []string
	c    *client.Client
}

// close ends the local client (call it before stopping its router).
func (l *registrationLog) close() { _ = l.c.Close() }

func (l *registrationLog) hook(t *testing.T) func(router.Router) {
	return func(r router.Router) {
		c, err := client.ConnectLocal(r, client.Config{Realm: testRealm, ResponseTimeout: time.Second, Logger: log.New(io.Discard, "", 0)})
		if err != nil {
			t.Fatalf("local client: %v", err)
		}
		l.c = c
		t.Cleanup(l.close)
		err = c.Subscribe(string(wamp.MetaEventRegOnCreate), func(ev *wamp.Event) {
			if len(ev.Arguments) < 2 {
				return
			}
			d, _ := ev.Arguments[1].(wamp.Dict)
			uri, _ := d["uri"].(wamp.URI)
			l.mu.Lock()
			l.uris = append(l.uris, string(uri))
			l.mu.Unlock()
		}, nil)
		if err != nil {
			t.Fatalf("meta subscription: %v", err)
		}
	}
}

func (l *registrationLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.uris...)
}

// countingSub counts events per concrete topic.
type countingSub struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingSub) handler(ev *agents.Event) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[ev.Topic]++
	c.mu.Unlock()
}

func (c *countingSub) count(topic string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[topic]
}

// freeAddr returns a loopback address nobody listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestReconnect is the fault test: the router stops while an op runs and
// comes back on the same port. The agent is registered again (.ops before
// the management procedure) within 5 s of the router's return, has exactly
// one subscription per topic (one delivery per event), the running op keeps
// its session, start-up ops are not started again, and the heartbeat
// resumes (checklist 9, 34, 37, 57).
func TestReconnect(t *testing.T) {
	regs1 := &registrationLog{}
	tr := startRouterWith(t, "127.0.0.1:0", nil, regs1.hook(t))
	cfg := agentCfg(tr, "phoenix")
	a, err := agents.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var startups atomic.Int32
	outageErr := make(chan error, 1)
	outage := make(chan struct{})
	feed, err := a.RegisterFeed(agents.FeedSpec{Name: "probe"})
	must(t, err)
	must(t, a.RegisterProcess(agents.OpSpec{
		Name: "acq", Startup: true,
		Run: func(s *agents.Session, _ agents.Params) (bool, string, error) {
			startups.Add(1)
			select {
			case <-outage:
				// Publish until the agent has noticed the loss (bounded).
				deadline := time.Now().Add(5 * time.Second)
				for {
					err := feed.Publish(map[string]any{"lost": true})
					if err != nil || time.Now().After(deadline) {
						outageErr <- err
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
			case <-s.Stopping():
				return true, "stopped early", nil
			}
			<-s.Stopping()
			return true, "Acquisition exited cleanly.", nil
		},
	}))
	counts := &countingSub{}
	sub, err := a.Subscribe(testRoot+"..feeds.", agents.MatchWildcard, counts.handler)
	must(t, err)
	ra := run(t, a)
	c1 := dialClient(t, tr, 0)
	waitRegistered(t, c1, a.Address(), 10*time.Second)
	if got, want := strings.Join(regs1.get(), " "), a.Address()+".ops "+a.Address(); got != want {
		t.Errorf("registrations %q, want %q", got, want)
	}
	// The start-up op is launched at the join; the framework moves it from
	// "starting" to "running" on its own goroutine.
	var before map[string]any
	waitFor(t, 5*time.Second, "acq running", func() bool {
		before = ops(t, c1, a.Address(), []any{"status", "acq"}, nil).sess
		return before["status"] == "running"
	})
	sess("running", 3, 0)(t, before)

	// The router goes away.
	regs1.close()
	tr.stop()
	close(outage)
	if err := <-outageErr; !errors.Is(err, agents.ErrNotConnected) {
		t.Errorf("publish during the outage: %v, want ErrNotConnected", err)
	}
	time.Sleep(time.Second) // stay down for a while: the agent keeps retrying
	select {
	case <-ra.done:
		t.Fatalf("Run returned during the outage: %v", ra.err)
	default:
	}

	// The router comes back on the same port.
	regs2 := &registrationLog{}
	back := time.Now()
	tr2 := startRouterWith(t, tr.addr, nil, regs2.hook(t))
	c2 := dialClient(t, tr2, 0)
	waitRegistered(t, c2, a.Address(), 5*time.Second)
	if d := time.Since(back); d > 5*time.Second {
		t.Errorf("re-registered %v after the router's return, want within 5 s", d)
	}
	if got, want := strings.Join(regs2.get(), " "), a.Address()+".ops "+a.Address(); got != want {
		t.Errorf("registrations after rejoin %q, want %q", got, want)
	}

	after := ops(t, c2, a.Address(), []any{"status", "acq"}, nil).sess
	sess("running", 3, 0)(t, after)
	if after["start_time"] != before["start_time"] {
		t.Errorf("the running op got a new session: %v then %v", before, after)
	}
	if n := startups.Load(); n != 1 {
		t.Errorf("start-up op ran %d times, want once", n)
	}

	// One subscription for the pattern, one delivery per event.
	res, err := call(c2, string(wamp.MetaProcSubLookup), []any{testRoot + "..feeds.", wamp.Dict{"match": "wildcard"}}, nil)
	if err != nil || len(res.Arguments) != 1 {
		t.Fatalf("subscription lookup: %v %v", res, err)
	}
	res, err = call(c2, string(wamp.MetaProcSubCountSubscribers), []any{res.Arguments[0]}, nil)
	if err != nil {
		t.Fatalf("count subscribers: %v", err)
	}
	if n, _ := asInt(res.Arguments[0]); n != 1 {
		t.Errorf("%d subscribers on the pattern, want 1", n)
	}
	received := sub.Received()
	for _, topic := range []string{"observatory.src.feeds.one", "observatory.src.feeds.marker"} {
		if err := c2.Publish(topic, nil, wamp.List{wamp.List{wamp.Dict{}, wamp.Dict{}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "marker event", func() bool { return counts.count("observatory.src.feeds.marker") == 1 })
	if n := counts.count("observatory.src.feeds.one"); n != 1 {
		t.Errorf("event delivered %d times, want once", n)
	}
	if n := sub.Received() - received; n != 2 {
		t.Errorf("subscription received %d events for 2 publications", n)
	}

	// The heartbeat runs again, with the running op's code.
	hb := subscribeLog(t, c2, a.Address()+".feeds.heartbeat", "")
	waitFor(t, 3*time.Second, "heartbeat after the rejoin", func() bool { return hb.len() >= 1 })
	events, _ := hb.snapshot()
	msg, _ := feedEvent(t, events[0])
	if code, _ := asInt(msg.(map[string]any)["acq"]); code != 3 {
		t.Errorf("heartbeat %v, want acq 3", msg)
	}
	if err := ra.stop(t); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestRetryWhileRouterDown: with no router at start the agent retries
// until one appears (checklist 57).
func TestRetryWhileRouterDown(t *testing.T) {
	addr := freeAddr(t)
	cfg := agentCfg(&testRouter{addr: addr}, "early")
	a, err := agents.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ra := run(t, a)
	time.Sleep(1500 * time.Millisecond) // several failed attempts
	select {
	case <-ra.done:
		t.Fatalf("Run returned without a router: %v", ra.err)
	default:
	}
	tr := startRouter(t, addr)
	c := dialClient(t, tr, 0)
	waitRegistered(t, c, a.Address(), 5*time.Second)
}

// TestCrossbarTimeout: after a loss without rejoin for crossbar_timeout,
// the agent stops its ops and Run returns nil (checklist 57).
func TestCrossbarTimeout(t *testing.T) {
	t.Parallel() // slow; ports are not reused
	tr := startRouter(t, "127.0.0.1:0")
	cfg := agentCfg(tr, "mortal")
	cfg.CrossbarTimeout = 1500 * time.Millisecond
	a, err := agents.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	must(t, a.RegisterProcess(agents.OpSpec{
		Name: "acq", Startup: true,
		Run: func(s *agents.Session, _ agents.Params) (bool, string, error) {
			<-s.Stopping()
			close(stopped)
			return true, "bye", nil
		},
	}))
	ra := run(t, a)
	c := dialClient(t, tr, 0)
	waitRegistered(t, c, a.Address(), 10*time.Second)
	lost := time.Now()
	tr.stop()
	select {
	case <-ra.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after crossbar_timeout")
	}
	if d := time.Since(lost); d < cfg.CrossbarTimeout || d > cfg.CrossbarTimeout+3*time.Second {
		t.Errorf("Run returned %v after the loss, want about %v", d, cfg.CrossbarTimeout)
	}
	if ra.err != nil {
		t.Errorf("Run: %v, want nil (exit 0)", ra.err)
	}
	select {
	case <-stopped:
	default:
		t.Error("the process was not stopped")
	}
}

// TestShutdown: cancelling Run's context stops processes and aborts tasks,
// waits for them, leaves the realm and returns nil; an op that ignores the
// stop is given up after StopTimeout (checklist 58).
func TestShutdown(t *testing.T) {
	tr := startRouter(t, "127.0.0.1:0")
	cfg := agentCfg(tr, "leaving")
	cfg.StopTimeout = 2 * time.Second
	a, err := agents.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var procMsg, taskMsg atomic.Value
	must(t, a.RegisterProcess(agents.OpSpec{
		Name: "record",
		Run: func(s *agents.Session, _ agents.Params) (bool, string, error) {
			<-s.Stopping()
			procMsg.Store("stopped")
			return true, "Aggregation has ended", nil
		},
	}))
	must(t, a.RegisterTask(agents.OpSpec{
		Name: "delay", Abortable: true,
		Run: func(s *agents.Session, _ agents.Params) (bool, string, error) {
			<-s.Stopping()
			taskMsg.Store("aborted")
			return false, "Aborted", nil
		},
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	c := dialClient(t, tr, 0)
	waitRegistered(t, c, a.Address(), 10*time.Second)
	ops(t, c, a.Address(), []any{"start", "record"}, nil)
	ops(t, c, a.Address(), []any{"start", "delay"}, nil)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(cfg.StopTimeout):
		t.Fatal("Run did not return within the stop timeout")
	}
	if procMsg.Load() != "stopped" || taskMsg.Load() != "aborted" {
		t.Errorf("process %v, task %v: not stopped", procMsg.Load(), taskMsg.Load())
	}
	if _, err := call(c, a.Address(), []any{"get_api"}, nil); !isNoSuchProcedure(err) {
		t.Errorf("after Run: %v, want no_such_procedure", err)
	}
}

// TestShutdownDeadline: an op that ignores the stop request delays Run by at
// most StopTimeout plus a grace second; its context is cancelled.
func TestShutdownDeadline(t *testing.T) {
	tr := startRouter(t, "127.0.0.1:0")
	cfg := agentCfg(tr, "stubborn")
	cfg.StopTimeout = 300 * time.Millisecond
	a, err := agents.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctxDone := make(chan struct{})
	must(t, a.RegisterProcess(agents.OpSpec{
		Name: "deaf", Startup: true,
		Run: func(s *agents.Session, _ agents.Params) (bool, string, error) {
			<-s.Context().Done()
			close(ctxDone)
			return true, "cancelled", nil
		},
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	c := dialClient(t, tr, 0)
	waitRegistered(t, c, a.Address(), 10*time.Second)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if d := time.Since(start); d < cfg.StopTimeout || d > cfg.StopTimeout+1500*time.Millisecond {
		t.Errorf("Run took %v, want about the stop timeout %v", d, cfg.StopTimeout)
	}
	select {
	case <-ctxDone:
	default:
		t.Error("the op's context was not cancelled")
	}
}

// TestAlreadyRunning: a second agent with the same address fails at its
// first join with procedure_already_exists and a clear hint.
func TestAlreadyRunning(t *testing.T) {
	tr := startRouter(t, "127.0.0.1:0")
	first, err := agents.New(agentCfg(tr, "twin"))
	if err != nil {
		t.Fatal(err)
	}
	run(t, first)
	c := dialClient(t, tr, 0)
	waitRegistered(t, c, first.Address(), 10*time.Second)
	second, err := agents.New(agentCfg(tr, "twin"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = second.Run(ctx)
	var je *agents.JoinError
	if !errors.As(err, &je) || je.URI != "wamp.error.procedure_already_exists" || je.Procedure != "observatory.twin.ops" {
		t.Fatalf("Run: %v, want a JoinError for procedure_already_exists", err)
	}
	if !strings.Contains(err.Error(), "is this agent already running?") {
		t.Errorf("error %q lacks the hint", err)
	}
	if ctx.Err() != nil {
		t.Error("Run kept retrying")
	}
}

// denyOutside refuses REGISTER outside the "allowed." prefix, as crossbar's
// role rules do.
type denyOutside struct{}

func (denyOutside) Authorize(_ *wamp.Session, msg wamp.Message) (bool, error) {
	if r, ok := msg.(*wamp.Register); ok {
		return strings.HasPrefix(string(r.Procedure), "allowed."), nil
	}
	return true, nil
}

// TestNotAuthorized: a router that refuses the address ends Run at the
// first join with the realm/address_root hint.
func TestNotAuthorized(t *testing.T) {
	tr := startRouterWith(t, "127.0.0.1:0", func(rc *router.RealmConfig) { rc.Authorizer = denyOutside{} }, nil)
	a, err := agents.New(agentCfg(tr, "outsider"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = a.Run(ctx)
	var je *agents.JoinError
	if !errors.As(err, &je) || je.URI != "wamp.error.not_authorized" || !strings.Contains(je.Hint, "address_root") {
		t.Fatalf("Run: %v, want a JoinError for not_authorized", err)
	}
}

// TestNormalCloseStopsOps: when the router ends the session with
// wamp.close.normal the agent stops its ops, as OCS's onLeave does, and
// then rejoins.
func TestNormalCloseStopsOps(t *testing.T) {
	tr := startRouterWith(t, "127.0.0.1:0", func(rc *router.RealmConfig) { rc.EnableMetaKill = true }, nil)
	cfg := agentCfg(tr, "closer")
	logs := &proc.Output{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	a, err := agents.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	must(t, a.RegisterProcess(agents.OpSpec{
		Name: "acq", Startup: true,
		Run: func(s *agents.Session, _ agents.Params) (bool, string, error) {
			<-s.Stopping()
			return true, "stopped on leave", nil
		},
	}))
	run(t, a)
	c := dialClient(t, tr, 0)
	// nexus v3.3.0's router sends the GOODBYE of a killed session without
	// waiting and then closes its connection, so under load the GOODBYE
	// can be lost: the agent then sees a lost transport and rightly keeps
	// its ops. The session is then killed again once the agent has
	// rejoined (at most three times); the agent must stop its ops when the
	// normal close does arrive.
	for attempt := 1; ; attempt++ {
		waitRegistered(t, c, a.Address(), 10*time.Second)
		res, err := call(c, string(wamp.MetaProcRegLookup), []any{a.Address()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err = call(c, string(wamp.MetaProcRegListCallees), []any{res.Arguments[0]}, nil)
		if err != nil {
			t.Fatal(err)
		}
		callees, _ := res.Arguments[0].([]any)
		if len(callees) != 1 {
			t.Fatalf("callees %v", res.Arguments)
		}
		if _, err := call(c, string(wamp.MetaProcSessionKill), []any{callees[0]}, map[string]any{"reason": "wamp.close.normal"}); err != nil {
			t.Fatalf("kill: %v", err)
		}
		waitFor(t, 10*time.Second, "the agent to notice the kill", func() bool {
			return strings.Count(logs.String(), "lost the WAMP session") >= attempt
		})
		if strings.Contains(logs.String(), "reason=wamp.close.normal") {
			break
		}
		if attempt == 3 {
			t.Fatalf("the router's GOODBYE never reached the agent in 3 kills:\n%s", logs.String())
		}
	}
	waitFor(t, 10*time.Second, "acq stopped after the rejoin", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		res, err := c.Call(ctx, a.Address()+".ops", nil, []any{"status", "acq"}, nil, nil)
		if err != nil {
			return false
		}
		r, err := decodeOpsReply(res)
		return err == nil && r.sess["status"] == "done"
	})
	w := ops(t, c, a.Address(), []any{"wait", "acq"}, nil)
	if got := messageTexts(w.sess); len(got) < 2 || got[len(got)-2] != "stopped on leave" {
		t.Errorf("messages %q", got)
	}
}

// TestConfigValidate covers the config rules, including the access policy
// (checklist 20).
func TestConfigValidate(t *testing.T) {
	base := agents.Config{AddressRoot: "observatory", InstanceID: "a-1_b", URL: "ws://h:8001/ws", Realm: "test_realm"}
	if err := base.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	bad := map[string]func(c *agents.Config){
		"dot in instance id":  func(c *agents.Config) { c.InstanceID = "a.b" },
		"no instance id":      func(c *agents.Config) { c.InstanceID = "" },
		"empty root part":     func(c *agents.Config) { c.AddressRoot = "obs..x" },
		"no realm":            func(c *agents.Config) { c.Realm = "" },
		"no url":              func(c *agents.Config) { c.URL = "" },
		"tcp url":             func(c *agents.Config) { c.URL = "tcp://h:1" },
		"serializer":          func(c *agents.Config) { c.Serialization = "ubjson" },
		"override policy":     func(c *agents.Config) { c.AccessPolicy = "override:pw2,pw3" },
		"director policy":     func(c *agents.Config) { c.AccessPolicy = "director:access-dir" },
		"negative timeout":    func(c *agents.Config) { c.CrossbarTimeout = -time.Second },
		"negative stop limit": func(c *agents.Config) { c.StopTimeout = -1 },
	}
	for name, mod := range bad {
		c := base
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		} else if name == "override policy" && !strings.Contains(err.Error(), "only policy \"none\"") {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, p := range []string{"", "none", "None"} {
		c := base
		c.AccessPolicy = p
		if err := c.Validate(); err != nil {
			t.Errorf("policy %q rejected: %v", p, err)
		}
	}
	if _, err := agents.New(agents.Config{}); err == nil {
		t.Error("New accepted an empty config")
	}
}
