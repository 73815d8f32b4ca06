package agents_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/router"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"
	"go.uber.org/goleak"

	"github.com/ocsflux/ocsflux/agents"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testRealm = "test_realm"
	testRoot  = "observatory"
)

// testLogger discards logs unless OCSFLUX_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("OCSFLUX_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testRouter is an in-process nexus router with a WebSocket server on a
// loopback port, configured as OCS's crossbar realm (anonymous, loose
// URIs, no disclosure).
type testRouter struct {
	r      router.Router
	srv    *http.Server
	addr   string
	served chan struct{}
}

// startRouter starts a router on addr ("127.0.0.1:0" for a free port). It is
// stopped at cleanup if the test did not stop it.
func startRouter(t *testing.T, addr string) *testRouter {
	t.Helper()
	return startRouterWith(t, addr, nil, nil)
}

// startRouterWith is startRouter with a hook to adjust the realm and one
// that runs after the router exists and before it accepts connections.
func startRouterWith(t *testing.T, addr string, realm func(*router.RealmConfig), before func(router.Router)) *testRouter {
	t.Helper()
	rc := &router.RealmConfig{
		URI:           testRealm,
		AnonymousAuth: true,
		AllowDisclose: false,
		StrictURI:     false,
	}
	if realm != nil {
		realm(rc)
	}
	r, err := router.NewRouter(&router.Config{RealmConfigs: []*router.RealmConfig{rc}}, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	if before != nil {
		before(r)
	}
	var ln net.Listener
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the port of a stopped router may linger briefly
	}
	if err != nil {
		r.Close()
		t.Fatalf("listen %s: %v", addr, err)
	}
	ws := router.NewWebsocketServer(r)
	ws.OutQueueSize = 4096
	tr := &testRouter{r: r, srv: &http.Server{Handler: ws, ReadHeaderTimeout: 5 * time.Second}, addr: ln.Addr().String(), served: make(chan struct{})}
	go func() {
		defer close(tr.served)
		_ = tr.srv.Serve(ln)
	}()
	t.Cleanup(tr.stop)
	return tr
}

func (tr *testRouter) url() string { return "ws://" + tr.addr + "/ws" }

// stop closes the listener and the router (every session gets GOODBYE and
// its connection is closed). Safe to call twice.
func (tr *testRouter) stop() {
	_ = tr.srv.Close()
	<-tr.served
	tr.r.Close()
}

// agentCfg returns a config for instance id on tr.
func agentCfg(tr *testRouter, id string) agents.Config {
	return agents.Config{
		AddressRoot:     testRoot,
		InstanceID:      id,
		AgentClass:      "TestAgent",
		URL:             tr.url(),
		Realm:           testRealm,
		Hostname:        "testhost",
		PID:             4242,
		StopTimeout:     3 * time.Second,
		ResponseTimeout: 3 * time.Second,
		Logger:          testLogger(),
	}
}

// runningAgent is an agent whose Run is going on in the background.
type runningAgent struct {
	*agents.Agent
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// run starts a.Run; at cleanup it is cancelled and awaited.
func run(t *testing.T, a *agents.Agent) *runningAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{Agent: a, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(ra.done)
		ra.err = a.Run(ctx)
	}()
	t.Cleanup(func() { ra.stop(t) })
	return ra
}

// stop cancels Run and waits for it (at most 15 s).
func (ra *runningAgent) stop(t *testing.T) error {
	ra.cancel()
	select {
	case <-ra.done:
	case <-time.After(15 * time.Second):
		t.Errorf("agent %s: Run did not return", ra.Address())
	}
	return ra.err
}

// dialClient connects a test client (msgpack unless ser says otherwise).
func dialClient(t *testing.T, tr *testRouter, ser serialize.Serialization) *client.Client {
	t.Helper()
	if ser == serialize.AUTO {
		ser = serialize.MSGPACK
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.ConnectNet(ctx, tr.url(), client.Config{
		Realm: testRealm, Serialization: ser, ResponseTimeout: 5 * time.Second,
		Logger: log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatalf("test client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// call makes an RPC with a 30 s limit (generous: -race on a loaded machine).
func call(c *client.Client, proc string, args []any, kwargs map[string]any) (*wamp.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Call(ctx, proc, nil, args, kwargs, nil)
}

// opsReply is a decoded .ops reply.
type opsReply struct {
	code int64
	msg  string
	sess map[string]any
}

// ops calls <addr>.ops and decodes the reply, failing on anything but a
// 3-element [int, string, object].
func ops(t *testing.T, c *client.Client, addr string, args []any, kwargs map[string]any) opsReply {
	t.Helper()
	res, err := call(c, addr+".ops", args, kwargs)
	if err != nil {
		t.Fatalf("%s.ops %v %v: %v", addr, args, kwargs, err)
	}
	r, err := decodeOpsReply(res)
	if err != nil {
		t.Fatalf("%s.ops %v %v: %v", addr, args, kwargs, err)
	}
	return r
}

func decodeOpsReply(res *wamp.Result) (opsReply, error) {
	if len(res.Arguments) != 1 || len(res.ArgumentsKw) != 0 {
		return opsReply{}, fmt.Errorf("want one positional result, got args %v kwargs %v", res.Arguments, res.ArgumentsKw)
	}
	l, ok := res.Arguments[0].([]any)
	if !ok || len(l) != 3 {
		return opsReply{}, fmt.Errorf("want a 3-list, got %#v", res.Arguments[0])
	}
	code, ok := asInt(l[0])
	msg, ok2 := l[1].(string)
	sess, ok3 := l[2].(map[string]any)
	if !ok || !ok2 || !ok3 {
		return opsReply{}, fmt.Errorf("want [int, string, object], got %#v", l)
	}
	return opsReply{code, msg, sess}, nil
}

// mgmt calls the management procedure with q.
func mgmt(t *testing.T, c *client.Client, addr, q string) any {
	t.Helper()
	res, err := call(c, addr, []any{q}, nil)
	if err != nil {
		t.Fatalf("%s %q: %v", addr, q, err)
	}
	if len(res.Arguments) != 1 {
		t.Fatalf("%s %q: want one result, got %v", addr, q, res.Arguments)
	}
	return res.Arguments[0]
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

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	return 0, false
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

// waitRegistered waits until addr's management procedure answers.
func waitRegistered(t *testing.T, c *client.Client, addr string, d time.Duration) {
	t.Helper()
	waitFor(t, d, addr+" registered", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.Call(ctx, addr, nil, []any{"get_agent_class"}, nil, nil)
		return err == nil
	})
}

// isNoSuchProcedure reports whether err is wamp.error.no_such_procedure.
func isNoSuchProcedure(err error) bool {
	var re client.RPCError
	return errors.As(err, &re) && re.Err.Error == wamp.ErrNoSuchProcedure
}

// gate is a test-controlled barrier an op can wait on.
type gate struct {
	once sync.Once
	ch   chan struct{}
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }
