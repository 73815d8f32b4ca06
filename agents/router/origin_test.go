package router_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	nxclient "github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/router"
)

const (
	ocsWeb = "http://ocs-web.example:8080" // the allowed origin in these tests
	evil   = "http://evil.example"
)

// countingCallee registers procedure on a WebSocket session and counts
// its invocations.
func countingCallee(t testing.TB, r *router.Router, procedure string) *atomic.Int32 {
	t.Helper()
	var n atomic.Int32
	callee := connect(t, r, serialize.MSGPACK)
	register(t, callee, procedure, func(context.Context, *wamp.Invocation) nxclient.InvokeResult {
		n.Add(1)
		return nxclient.InvokeResult{Args: wamp.List{"stopped"}}
	})
	return &n
}

// wantErrorTriple checks the bridge's error body: a non-empty "error" text
// and empty "args" and "kwargs".
func wantErrorTriple(t testing.TB, what, reply string) {
	t.Helper()
	m := decodeObject(t, reply)
	if e, _ := m["error"].(string); e == "" || !reflect.DeepEqual(m["args"], []any{}) || !reflect.DeepEqual(m["kwargs"], map[string]any{}) {
		t.Errorf("%s: body %s, want error text with empty args and kwargs", what, reply)
	}
}

// wantRefused checks a refused call: status want and the bridge's error
// body (wantErrorTriple). It reports whether the status was want.
func wantRefused(t testing.TB, what string, st, want int, reply string) bool {
	t.Helper()
	if st != want {
		t.Errorf("%s: status %d, want %d (%s)", what, st, want, reply)
		return false
	}
	wantErrorTriple(t, what, reply)
	return true
}

// noCredentials fails if hdr allows credentials, which the router never
// does.
func noCredentials(t testing.TB, what string, hdr http.Header) {
	t.Helper()
	if v := hdr.Values("Access-Control-Allow-Credentials"); len(v) > 0 {
		t.Errorf("%s: Access-Control-Allow-Credentials %q", what, v)
	}
}

// TestBridgeRefusesForeignOrigin: a web page whose origin is not allowed
// cannot call through /call, whatever it sends, and the agent is not
// called; an allowed origin and clients without Origin can.
func TestBridgeRefusesForeignOrigin(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{AllowOrigins: []string{ocsWeb}})
	calls := countingCallee(t, r, "observatory.victim.ops")
	body := `{"procedure": "observatory.victim.ops", "args": ["abort", "record", {}], "kwargs": {}}`

	refused := []struct {
		name, method string
		hdr          http.Header
	}{
		{"evil, no Content-Type", http.MethodPost, http.Header{"Origin": {evil}}},
		{"evil, JSON", http.MethodPost, http.Header{"Origin": {evil}, "Content-Type": {"application/json"}}},
		{"evil, text/plain", http.MethodPost, http.Header{"Origin": {evil}, "Content-Type": {"text/plain;charset=UTF-8"}}},
		{"evil, PUT", http.MethodPut, http.Header{"Origin": {evil}, "Content-Type": {"application/json"}}},
		{"null", http.MethodPost, http.Header{"Origin": {"null"}, "Content-Type": {"application/json"}}},
		{"empty", http.MethodPost, http.Header{"Origin": {""}, "Content-Type": {"application/json"}}},
		{"other port", http.MethodPost, http.Header{"Origin": {"http://ocs-web.example"}, "Content-Type": {"application/json"}}},
		{"other scheme", http.MethodPost, http.Header{"Origin": {"https://ocs-web.example:8080"}, "Content-Type": {"application/json"}}},
		{"suffix", http.MethodPost, http.Header{"Origin": {"http://ocs-web.example:8080.evil.example"}, "Content-Type": {"application/json"}}},
		{"two origins", http.MethodPost, http.Header{"Origin": {ocsWeb, evil}, "Content-Type": {"application/json"}}},
	}
	for _, c := range refused {
		st, hdr, reply := doRequest(t, c.method, r.CallURL(), c.hdr, body)
		if !wantRefused(t, c.name, st, http.StatusForbidden, reply) {
			continue
		}
		if v := hdr.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("%s: Access-Control-Allow-Origin %q", c.name, v)
		}
		noCredentials(t, c.name, hdr)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("the agent was called %d times by refused web pages", n)
	}

	accepted := []struct {
		name string
		hdr  http.Header
		acao string
	}{
		{"allowed origin", http.Header{"Origin": {ocsWeb}, "Content-Type": {"application/json"}}, ocsWeb},
		{"allowed origin, other case", http.Header{"Origin": {"HTTP://OCS-Web.Example:8080"}, "Content-Type": {"application/json; charset=utf-8"}}, "HTTP://OCS-Web.Example:8080"},
		{"no Origin, no Content-Type (OCS's client_http.py)", nil, ""},
		{"no Origin, JSON", http.Header{"Content-Type": {"application/json"}}, ""},
	}
	for _, c := range accepted {
		st, hdr, reply := doRequest(t, http.MethodPost, r.CallURL(), c.hdr, body)
		if st != http.StatusOK || reply != `{"args":["stopped"]}` {
			t.Errorf("%s: %d %s, want 200 with the result", c.name, st, reply)
		}
		if got := hdr.Get("Access-Control-Allow-Origin"); got != c.acao {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", c.name, got, c.acao)
		}
		noCredentials(t, c.name, hdr)
	}
	if n := calls.Load(); n != int32(len(accepted)) {
		t.Errorf("the agent was called %d times, want %d", n, len(accepted))
	}
}

// TestBridgeNoOriginsAllowedByDefault: with the default configuration no
// web page may call.
func TestBridgeNoOriginsAllowedByDefault(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	calls := countingCallee(t, r, "observatory.victim.ops")
	for _, origin := range []string{evil, "http://localhost", "http://127.0.0.1:" + strings.Split(r.Addr().String(), ":")[1]} {
		st, _, reply := doRequest(t, http.MethodPost, r.CallURL(),
			http.Header{"Origin": {origin}, "Content-Type": {"application/json"}},
			`{"procedure": "observatory.victim.ops", "args": [], "kwargs": {}}`)
		if st != http.StatusForbidden {
			t.Errorf("Origin %s: %d %s, want 403", origin, st, reply)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the agent was called %d times", n)
	}
}

// TestBridgeRequiresJSONContentType: a declared Content-Type must be JSON
// (415 otherwise; these are the types a web page can send without a CORS
// preflight). A missing one is accepted only without Origin, as OCS's
// client_http.py sends none.
func TestBridgeRequiresJSONContentType(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{AllowOrigins: []string{ocsWeb}})
	calls := countingCallee(t, r, "observatory.victim.ops")
	body := `{"procedure": "observatory.victim.ops", "args": [], "kwargs": {}}`
	cases := []struct {
		name string
		hdr  http.Header
	}{
		{"text/plain", http.Header{"Content-Type": {"text/plain"}}},
		{"text/plain from a page", http.Header{"Origin": {ocsWeb}, "Content-Type": {"text/plain;charset=UTF-8"}}},
		{"form", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}},
		{"multipart", http.Header{"Content-Type": {"multipart/form-data; boundary=x"}}},
		{"missing from a page", http.Header{"Origin": {ocsWeb}}},
		{"unparsable", http.Header{"Content-Type": {"application/json; charset"}}},
		{"latin-1", http.Header{"Content-Type": {"application/json; charset=latin-1"}}},
	}
	for _, c := range cases {
		st, _, reply := doRequest(t, http.MethodPost, r.CallURL(), c.hdr, body)
		if !wantRefused(t, c.name, st, http.StatusUnsupportedMediaType, reply) {
			continue
		}
		if !strings.Contains(reply, "application/json") {
			t.Errorf("%s: the error does not say what is wanted: %s", c.name, reply)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the agent was called %d times", n)
	}
}

// TestBridgePreflight: a CORS preflight is answered only for an allowed
// origin, with POST and Content-Type and never with credentials.
func TestBridgePreflight(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{AllowOrigins: []string{ocsWeb}})
	preflight := func(origin string) http.Header {
		return http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"},
			"Access-Control-Request-Headers": {"content-type"}}
	}

	st, hdr, reply := doRequest(t, http.MethodOptions, r.CallURL(), preflight(evil), "")
	wantRefused(t, "preflight from "+evil, st, http.StatusForbidden, reply)
	for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
		if v := hdr.Get(h); v != "" {
			t.Errorf("preflight from %s: %s %q", evil, h, v)
		}
	}
	noCredentials(t, "evil preflight", hdr)

	st, hdr, _ = doRequest(t, http.MethodOptions, r.CallURL(), preflight(ocsWeb), "")
	if st != http.StatusNoContent && st != http.StatusOK {
		t.Errorf("preflight from %s: status %d, want 2xx", ocsWeb, st)
	}
	if got := hdr.Get("Access-Control-Allow-Origin"); got != ocsWeb {
		t.Errorf("preflight from %s: Access-Control-Allow-Origin %q", ocsWeb, got)
	}
	if got := hdr.Get("Access-Control-Allow-Methods"); got != "POST" {
		t.Errorf("preflight: Access-Control-Allow-Methods %q, want POST", got)
	}
	if got := hdr.Get("Access-Control-Allow-Headers"); !strings.EqualFold(got, "Content-Type") {
		t.Errorf("preflight: Access-Control-Allow-Headers %q, want Content-Type", got)
	}
	if !strings.Contains(strings.Join(hdr.Values("Vary"), ","), "Origin") {
		t.Errorf("preflight: Vary %q does not name Origin", hdr.Values("Vary"))
	}
	noCredentials(t, "allowed preflight", hdr)
}

// dialOrigin dials the WebSocket endpoint offering wamp.2.json, with
// origin in the Origin header unless it is "".
func dialOrigin(t testing.TB, r *router.Router, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	hdr := http.Header{}
	if origin != "" {
		hdr.Set("Origin", origin)
	}
	return dialHeader(t, r, hdr, router.ProtocolJSON)
}

// TestWebSocketOrigin: a WebSocket handshake from a web page whose origin
// is not allowed gets 403 before the upgrade; without Origin (autobahn,
// nexus) and from an allowed origin it connects and joins.
func TestWebSocketOrigin(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{AllowOrigins: []string{ocsWeb}})
	for _, origin := range []string{evil, "null", "http://ocs-web.example", "http://" + r.Addr().String()} {
		conn, resp, err := dialOrigin(t, r, origin)
		if err == nil {
			_ = conn.Close()
			t.Errorf("Origin %s: connected, want 403", origin)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("Origin %s: %v (response %+v), want HTTP 403", origin, err, resp)
		}
	}
	for _, origin := range []string{"", ocsWeb} {
		conn, resp, err := dialOrigin(t, r, origin)
		if err != nil {
			t.Errorf("Origin %q: %v, want a connection", origin, err)
			continue
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Errorf("Origin %q: status %d", origin, resp.StatusCode)
		}
		p := &rawPeer{t: t, conn: conn}
		p.send(`[1,"` + realm + `",{"roles":{"caller":{}}}]`)
		if msg := p.recv(); !strings.HasPrefix(msg, "[2,") {
			t.Errorf("Origin %q: want WELCOME, got %s", origin, msg)
		}
	}
	// The nexus client (as ocsflux's agents use it) sends no Origin.
	connect(t, r, serialize.CBOR)
}
