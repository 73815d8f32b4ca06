package router_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	nxclient "github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/router"
)

// TestCleanShutdown: with sessions of every serializer, a bridge call in
// flight and a connection that never sent HELLO, cancelling Run's context
// makes Run return nil promptly, every client sees the end of its session,
// the port is closed and no goroutine is left behind.
func TestCleanShutdown(t *testing.T) {
	// Not parallel: goleak looks at every goroutine of the process.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	r, err := router.New(router.Config{Listen: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(ctx) }()
	<-r.Ready()
	addr := r.Addr().String()

	var clients []*nxclient.Client
	for _, s := range serializations {
		clients = append(clients, connect(t, r, s.s))
	}
	callee := clients[1]
	started := make(chan struct{})
	register(t, callee, "observatory.hang.ops", func(ctx context.Context, _ *wamp.Invocation) nxclient.InvokeResult {
		close(started)
		<-ctx.Done()
		return nxclient.InvokeResult{Err: wamp.ErrCanceled}
	})
	if err := clients[0].Subscribe("observatory..feeds.", func(*wamp.Event) {}, wamp.Dict{"match": "wildcard"}); err != nil {
		t.Fatal(err)
	}
	silent, _, err := dialRaw(t, r, router.ProtocolJSON) // never sends HELLO
	if err != nil {
		t.Fatal(err)
	}
	bridgeDone := make(chan int, 1)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	go func() {
		resp, err := (&http.Client{Transport: tr}).Post(r.CallURL(), "", strings.NewReader(`{"procedure": "observatory.hang.ops"}`))
		if err != nil {
			bridgeDone <- 0
			return
		}
		resp.Body.Close()
		bridgeDone <- resp.StatusCode
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("bridge call did not reach the callee")
	}

	begin := time.Now()
	stop()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15 s of cancellation")
	}
	t.Logf("shutdown took %s", time.Since(begin))
	if st := <-bridgeDone; st != http.StatusInternalServerError {
		t.Errorf("bridge call in flight got status %d, want 500", st)
	}
	for i, c := range clients {
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Errorf("client %d still connected after shutdown", i)
		}
	}
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := silent.ReadMessage(); err == nil {
		t.Error("connection without HELLO still open")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections", addr)
	}
	for _, c := range clients {
		_ = c.Close()
	}
	_ = silent.Close()
}

// TestRunTwice: a Router runs once.
func TestRunTwice(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	if err := r.Run(context.Background()); err == nil {
		t.Error("second Run succeeded")
	}
}

// TestListenFailure: Run reports a port it cannot bind, and never becomes
// ready.
func TestListenFailure(t *testing.T) {
	t.Parallel()
	busy := startRouter(t, router.Config{})
	r, err := router.New(router.Config{Listen: busy.Addr().String(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("Run on a busy port: %v", err)
	}
	select {
	case <-r.Ready():
		t.Error("Ready closed although Run failed")
	default:
	}
	if r.Addr() != nil || r.WSURL() != "" {
		t.Error("Addr/WSURL set although Run failed")
	}
	if _, err := r.ConnectLocal(nxclient.Config{}); err == nil {
		t.Error("ConnectLocal on a router that is not running succeeded")
	}
}

// TestInfoPage: crossbar's readiness page answers 200; unknown paths 404;
// a plain GET on the WebSocket path says what it is.
func TestInfoPage(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	base := "http://" + r.Addr().String()
	if st, _, body := doHTTP(t, http.MethodGet, base+"/info", "", ""); st != http.StatusOK || !strings.Contains(body, "test_realm") {
		t.Errorf("GET /info: %d %s", st, body)
	}
	if st, _, _ := doHTTP(t, http.MethodPost, base+"/info", "", ""); st != http.StatusMethodNotAllowed {
		t.Errorf("POST /info: %d", st)
	}
	if st, _, _ := doHTTP(t, http.MethodGet, base+"/nope", "", ""); st != http.StatusNotFound {
		t.Errorf("GET /nope: %d", st)
	}
	if st, _, _ := doHTTP(t, http.MethodGet, base+"/ws", "", ""); st != http.StatusUpgradeRequired {
		t.Errorf("plain GET on the WebSocket path: %d", st)
	}
}

// TestCustomPaths: the paths from the site config are honoured.
func TestCustomPaths(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{WSPath: "/wamp", CallPath: "/rpc", Realm: "other_realm"})
	if !strings.HasSuffix(r.WSURL(), "/wamp") || !strings.HasSuffix(r.CallURL(), "/rpc") {
		t.Fatalf("URLs %s %s", r.WSURL(), r.CallURL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := nxclient.ConnectNet(ctx, r.WSURL(), nxclient.Config{Realm: "other_realm", Serialization: serialize.MSGPACK})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	register(t, c, "observatory.x", noop)
	if st, _, body := postCall(t, r.CallURL(), `{"procedure": "observatory.x", "args": [], "kwargs": {}}`); st != 200 || body != `{"args":[null]}` {
		t.Errorf("bridge at /rpc: %d %s", st, body)
	}
	// Joining another realm fails.
	_, err = nxclient.ConnectNet(ctx, r.WSURL(), nxclient.Config{Realm: "test_realm", Serialization: serialize.MSGPACK})
	if err == nil || !strings.Contains(err.Error(), "no_such_realm") {
		t.Errorf("joining an unknown realm: %v", err)
	}
}

// TestStart: Start returns with the router listening, stop shuts it down
// (the port stops answering); a router that cannot listen makes Start
// return its error.
func TestStart(t *testing.T) {
	t.Parallel()
	r, err := router.New(router.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := r.Start()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	base := "http://" + r.Addr().String()
	if st, _, _ := doHTTP(t, http.MethodGet, base+"/info", "", ""); st != http.StatusOK {
		t.Errorf("GET /info after Start: %d", st)
	}

	busy, err := router.New(router.Config{Listen: r.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if stopBusy, err := busy.Start(); err == nil {
		stopBusy()
		t.Error("Start on a port in use succeeded")
	}

	stop()
	resp, err := http.Get(base + "/info")
	if err == nil {
		resp.Body.Close()
		t.Errorf("the router still answers after stop: %d", resp.StatusCode)
	}
}
