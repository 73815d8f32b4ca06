package router_test

import (
	"context"
	"net/http"
	"testing"

	nxclient "github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/router"
)

func TestChooseSubprotocol(t *testing.T) {
	cases := []struct {
		offer []string
		want  string
		ok    bool
	}{
		{[]string{"wamp.2.cbor", "wamp.2.json"}, "wamp.2.cbor", true},
		{[]string{"wamp.2.json"}, "wamp.2.json", true},
		{[]string{"wamp.2.json", "wamp.2.msgpack"}, "wamp.2.json", true},
		// autobahn-python's offer when cbor2 is not installed
		{[]string{"wamp.2.msgpack.batched", "wamp.2.msgpack", "wamp.2.ubjson.batched", "wamp.2.ubjson", "wamp.2.json.batched", "wamp.2.json"}, "wamp.2.msgpack", true},
		{[]string{"wamp.2.cbor.batched", "wamp.2.cbor", "wamp.2.msgpack"}, "wamp.2.cbor", true},
		{[]string{"wamp.2.ubjson", "wamp.2.json.batched"}, "", false},
		{nil, "", false},
	}
	for _, c := range cases {
		got, ok := router.ChooseSubprotocol(c.offer)
		if got != c.want || ok != c.ok {
			t.Errorf("ChooseSubprotocol(%q) = %q, %v; want %q, %v", c.offer, got, ok, c.want, c.ok)
		}
	}
}

// TestChecklist01SubprotocolClientOrder: the router picks the first
// subprotocol of the client's offer that it speaks (crossbar's behaviour),
// not its own preference, and every offered serializer can join.
func TestChecklist01SubprotocolClientOrder(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	cases := []struct {
		offer []string
		want  string
	}{
		{[]string{"wamp.2.cbor", "wamp.2.json"}, "wamp.2.cbor"},
		{[]string{"wamp.2.json"}, "wamp.2.json"},
		{[]string{"wamp.2.json", "wamp.2.cbor"}, "wamp.2.json"},
		{[]string{"wamp.2.msgpack.batched", "wamp.2.msgpack", "wamp.2.json.batched", "wamp.2.json"}, "wamp.2.msgpack"},
		{[]string{"wamp.2.cbor.batched", "wamp.2.cbor", "wamp.2.msgpack.batched", "wamp.2.msgpack", "wamp.2.json"}, "wamp.2.cbor"},
	}
	for _, c := range cases {
		conn, _, err := dialRaw(t, r, c.offer...)
		if err != nil {
			t.Errorf("offer %q: dial: %v", c.offer, err)
			continue
		}
		if got := conn.Subprotocol(); got != c.want {
			t.Errorf("offer %q: router chose %q, want %q", c.offer, got, c.want)
		}
		_ = conn.Close()
	}

	// Nothing the router speaks: the handshake is refused.
	if _, resp, err := dialRaw(t, r, "wamp.2.ubjson"); err == nil {
		t.Error("offer [wamp.2.ubjson]: handshake succeeded")
	} else if resp == nil || resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("offer [wamp.2.ubjson]: want HTTP 406, got %v (%v)", resp, err)
	}

	// Each serializer joins and can call through the router.
	callee := connect(t, r, serialize.MSGPACK)
	register(t, callee, "observatory.echo", func(_ context.Context, inv *wamp.Invocation) nxclient.InvokeResult {
		return nxclient.InvokeResult{Args: inv.Arguments}
	})
	for _, s := range serializations {
		c := connect(t, r, s.s)
		res, err := c.Call(context.Background(), "observatory.echo", nil, wamp.List{s.name}, nil, nil)
		if err != nil {
			t.Errorf("%s client: call: %v", s.name, err)
			continue
		}
		if len(res.Arguments) != 1 || res.Arguments[0] != s.name {
			t.Errorf("%s client: echo returned %#v", s.name, res.Arguments)
		}
	}
}

// TestSubprotocolSeveralHeaderLines: an offer split over several
// Sec-WebSocket-Protocol header lines is read in order.
func TestSubprotocolSeveralHeaderLines(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	hdr := http.Header{}
	hdr.Add("Sec-WebSocket-Protocol", "wamp.2.ubjson")
	hdr.Add("Sec-WebSocket-Protocol", "wamp.2.cbor, wamp.2.json")
	conn, _, err := dialHeader(t, r, hdr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if got := conn.Subprotocol(); got != "wamp.2.cbor" {
		t.Errorf("router chose %q, want wamp.2.cbor", got)
	}
}
