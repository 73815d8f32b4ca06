package router_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	nxclient "github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/router"
)

// stalledCall opens a connection to the bridge and sends a POST whose
// Content-Length announces more than the part of the body it sends; the
// rest is sent with finish (if the test wants to). The connection is
// closed when the test ends, before the router stops.
type stalledCall struct {
	conn net.Conn
	rest string
}

func startStalledCall(t testing.TB, r *router.Router, body string, sent int) *stalledCall {
	t.Helper()
	u, err := url.Parse(r.CallURL())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", u.Path, u.Host, len(body))
	if _, err := io.WriteString(conn, head+body[:sent]); err != nil {
		t.Fatal(err)
	}
	return &stalledCall{conn: conn, rest: body[sent:]}
}

func (s *stalledCall) finish(t testing.TB) {
	t.Helper()
	if _, err := io.WriteString(s.conn, s.rest); err != nil {
		t.Fatal(err)
	}
}

// response reads the reply, failing after within.
func (s *stalledCall) response(t testing.TB, within time.Duration) (int, string) {
	t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(within))
	resp, err := http.ReadResponse(bufio.NewReader(s.conn), nil)
	if err != nil {
		t.Fatalf("no reply within %s: %v", within, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBridgeStalledBodyTimesOut: a client that sends its headers and part
// of its body, then nothing, is answered 408 once CallBodyTimeout has
// passed, and the agent is not called.
func TestBridgeStalledBodyTimesOut(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	r := startRouter(t, router.Config{CallBodyTimeout: timeout})
	calls := countingCallee(t, r, "observatory.victim.ops")
	body := `{"procedure": "observatory.victim.ops", "args": ["` + strings.Repeat("x", 64<<10) + `"], "kwargs": {}}`
	start := time.Now()
	s := startStalledCall(t, r, body, 32<<10)
	st, reply := s.response(t, 10*time.Second)
	took := time.Since(start)
	if st != http.StatusRequestTimeout {
		t.Errorf("status %d, want 408 (%s)", st, reply)
	} else {
		wantErrorTriple(t, "stalled body", reply)
	}
	if took < timeout {
		t.Errorf("answered after %s, before the %s timeout", took, timeout)
	}
	if took > timeout+5*time.Second {
		t.Errorf("answered after %s; the timeout is %s", took, timeout)
	}
	// The router closes the connection: the rest of the body is not read
	// as a request.
	_ = s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := s.conn.Read(make([]byte, 1)); err == nil {
		t.Errorf("connection still open after the 408 (read %d bytes)", n)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the agent was called %d times", n)
	}
}

// TestBridgeBodyTimeoutDoesNotLimitCall: CallBodyTimeout bounds only the
// reading of the body; a call that takes longer is answered.
func TestBridgeBodyTimeoutDoesNotLimitCall(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	r := startRouter(t, router.Config{CallBodyTimeout: timeout})
	callee := connect(t, r, serialize.MSGPACK)
	register(t, callee, "observatory.slow.ops", func(ctx context.Context, _ *wamp.Invocation) nxclient.InvokeResult {
		select {
		case <-time.After(5 * timeout):
		case <-ctx.Done():
			return nxclient.InvokeResult{Err: wamp.ErrCanceled}
		}
		return nxclient.InvokeResult{Args: wamp.List{"done"}}
	})
	st, _, reply := postCall(t, r.CallURL(), `{"procedure": "observatory.slow.ops", "args": [], "kwargs": {}}`)
	if st != http.StatusOK || reply != `{"args":["done"]}` {
		t.Errorf("call longer than the body timeout: %d %s", st, reply)
	}
}

// TestBridgeBodyCap: with MaxCallBodies bodies being read, the next
// request is answered 503 at once without being read; once a body has
// arrived its slot is free again.
func TestBridgeBodyCap(t *testing.T) {
	t.Parallel()
	const bodies = 2
	r := startRouter(t, router.Config{MaxCallBodies: bodies, CallBodyTimeout: time.Minute})
	calls := countingCallee(t, r, "observatory.victim.ops")
	body := `{"procedure": "observatory.victim.ops", "args": ["` + strings.Repeat("x", 1000) + `"], "kwargs": {}}`
	var stalled []*stalledCall
	for range bodies {
		stalled = append(stalled, startStalledCall(t, r, body, 100))
	}

	// The stalled requests reach the bridge in their own time: wait for
	// the first 503.
	var st int
	var hdr http.Header
	var reply string
	deadline := time.Now().Add(10 * time.Second)
	for {
		start := time.Now()
		st, hdr, reply = doRequest(t, http.MethodPost, r.CallURL(), nil, body)
		if st == http.StatusServiceUnavailable {
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("503 after %s, want it at once", took)
			}
			break
		}
		if st != http.StatusOK {
			t.Fatalf("status %d (%s), want 200 until the cap is reached, then 503", st, reply)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 503 with %d bodies stalled and MaxCallBodies %d", bodies, bodies)
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantErrorTriple(t, "over the cap", reply)
	if hdr.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	before := calls.Load()

	// One stalled body arrives: it is called, and its slot is free again.
	stalled[0].finish(t)
	if st, reply := stalled[0].response(t, 10*time.Second); st != http.StatusOK || reply != `{"args":["stopped"]}` {
		t.Errorf("finished body: %d %s", st, reply)
	}
	if st, _, reply := doRequest(t, http.MethodPost, r.CallURL(), nil, body); st != http.StatusOK {
		t.Errorf("after a slot was freed: %d %s, want 200", st, reply)
	}
	if n := calls.Load(); n != before+2 {
		t.Errorf("agent called %d times after the cap, want 2", n-before)
	}
}
