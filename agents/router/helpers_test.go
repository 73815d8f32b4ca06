package router_test

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	nxclient "github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/router"
	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const realm = "test_realm"

// testLog sends log lines to t.Log until the test's cleanup has run.
type testLog struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func newTestLog(t testing.TB) *testLog {
	l := &testLog{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(newTestLog(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startRouter runs a router on a free loopback port until the test ends.
func startRouter(t testing.TB, cfg router.Config) *router.Router {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	r, err := router.New(cfg)
	if err != nil {
		t.Fatalf("router.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("router Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("router did not stop within 20 s")
		}
	})
	select {
	case <-r.Ready():
	case err := <-errc:
		t.Fatalf("router Run ended before ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("router not ready within 10 s")
	}
	return r
}

// connect joins a nexus WebSocket client with the given serialization.
func connect(t testing.TB, r *router.Router, s serialize.Serialization) *nxclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := nxclient.ConnectNet(ctx, r.WSURL(), nxclient.Config{
		Realm:         realm,
		Serialization: s,
		Logger:        log.New(newTestLog(t), "client: ", 0),
	})
	if err != nil {
		t.Fatalf("connect (serialization %d): %v", s, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// connectLocal joins an in-process (trusted) session.
func connectLocal(t testing.TB, r *router.Router) *nxclient.Client {
	t.Helper()
	c, err := r.ConnectLocal(nxclient.Config{Logger: log.New(newTestLog(t), "local: ", 0)})
	if err != nil {
		t.Fatalf("ConnectLocal: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var serializations = []struct {
	name string
	s    serialize.Serialization
}{
	{"json", serialize.JSON},
	{"msgpack", serialize.MSGPACK},
	{"cbor", serialize.CBOR},
}

// rawPeer is a WAMP-JSON client written by hand, to see and send the exact
// text on the wire.
type rawPeer struct {
	t    testing.TB
	conn *websocket.Conn
}

func dialRaw(t testing.TB, r *router.Router, protocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	return dialHeader(t, r, nil, protocols...)
}

// dialHeader dials with a hand-made request header, offering protocols.
func dialHeader(t testing.TB, r *router.Router, hdr http.Header, protocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protocols, HandshakeTimeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := d.DialContext(ctx, r.WSURL(), hdr)
	if err == nil {
		t.Cleanup(func() { _ = conn.Close() })
	}
	return conn, resp, err
}

// joinRaw opens a wamp.2.json connection and joins the realm.
func joinRaw(t testing.TB, r *router.Router) *rawPeer {
	t.Helper()
	conn, _, err := dialRaw(t, r, router.ProtocolJSON)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	p := &rawPeer{t: t, conn: conn}
	p.send(`[1,"` + realm + `",{"roles":{"publisher":{},"subscriber":{},"caller":{},"callee":{}}}]`)
	if msg := p.recv(); !strings.HasPrefix(msg, "[2,") {
		t.Fatalf("want WELCOME, got %s", msg)
	}
	return p
}

func (p *rawPeer) send(text string) {
	p.t.Helper()
	if err := p.conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		p.t.Fatalf("send %s: %v", text, err)
	}
}

// recv returns the next message's text, failing after 10 s.
func (p *rawPeer) recv() string {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, b, err := p.conn.ReadMessage()
	if err != nil {
		p.t.Fatalf("receive: %v", err)
	}
	if typ != websocket.TextMessage {
		p.t.Fatalf("want a text frame, got type %d", typ)
	}
	return string(b)
}

// recvList receives one message and decodes it with Python's JSON rules.
func (p *rawPeer) recvList() (string, []any) {
	p.t.Helper()
	text := p.recv()
	v, err := wampjson.UnmarshalWAMP([]byte(text))
	if err != nil {
		p.t.Fatalf("decode %s: %v", text, err)
	}
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		p.t.Fatalf("not a WAMP message: %s", text)
	}
	return text, l
}

// postCall sends body to the bridge the way OCS's client_http does: POST,
// no Content-Type.
func postCall(t testing.TB, url, body string) (int, http.Header, string) {
	t.Helper()
	return doHTTP(t, http.MethodPost, url, "", body)
}

// doHTTP sends one request, with a Content-Type header unless
// contentType is "".
func doHTTP(t testing.TB, method, url, contentType, body string) (int, http.Header, string) {
	t.Helper()
	var hdr http.Header
	if contentType != "" {
		hdr = http.Header{"Content-Type": {contentType}}
	}
	return doRequest(t, method, url, hdr, body)
}

// doRequest sends one request with the given header lines.
func doRequest(t testing.TB, method, url string, hdr http.Header, body string) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// decodeObject decodes a JSON object with Python's rules.
func decodeObject(t testing.TB, text string) map[string]any {
	t.Helper()
	v, err := wampjson.Unmarshal([]byte(text))
	if err != nil {
		t.Fatalf("decode %q: %v", text, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("not an object: %s", text)
	}
	return m
}

// register registers fn on c, failing the test on error.
func register(t testing.TB, c *nxclient.Client, procedure string, fn nxclient.InvocationHandler) {
	t.Helper()
	if err := c.Register(procedure, fn, nil); err != nil {
		t.Fatalf("register %s: %v", procedure, err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// isInteger reports whether v decoded as an integer type.
func isInteger(v any) bool {
	switch v.(type) {
	case int64, uint64, int, int32, uint32, int16, uint16, int8, uint8:
		return true
	}
	return false
}

func asDict(t testing.TB, v any) wamp.Dict {
	t.Helper()
	d, ok := wamp.AsDict(v)
	if !ok {
		t.Fatalf("not a dict: %#v", v)
	}
	return d
}
