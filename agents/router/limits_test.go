package router_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	nxclient "github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/router"
)

// TestLargeMessagePassesByDefault: a 2 MiB feed payload goes through with
// the default 16 MiB limit (large feed payloads, OCS #282), over WebSocket
// with every serializer and through the HTTP bridge.
func TestLargeMessagePassesByDefault(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	for _, s := range serializations {
		topic := "observatory.big.feeds." + s.name
		sub := connect(t, r, s.s)
		ch := make(chan *wamp.Event, 1)
		if err := sub.SubscribeChan(topic, ch, nil); err != nil {
			t.Fatal(err)
		}
		pub := connect(t, r, s.s)
		big := strings.Repeat("x", 2<<20)
		if err := pub.Publish(topic, nil, wamp.List{big}, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-ch:
			if got, _ := ev.Arguments[0].(string); len(got) != len(big) {
				t.Errorf("%s: received %d bytes, want %d", s.name, len(got), len(big))
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: 2 MiB event not delivered", s.name)
		}
		// The bridge takes the same size.
		callee := connect(t, r, s.s)
		register(t, callee, "observatory.big."+s.name, func(_ context.Context, inv *wamp.Invocation) nxclient.InvokeResult {
			return nxclient.InvokeResult{Args: wamp.List{len(inv.Arguments[0].(string))}}
		})
		st, _, reply := postCall(t, r.CallURL(), `{"procedure": "observatory.big.`+s.name+`", "args": ["`+big+`"], "kwargs": {}}`)
		if st != 200 || reply != `{"args":[2097152]}` {
			t.Errorf("%s: bridge with a 2 MiB argument: %d %s", s.name, st, reply)
		}
	}
}

// TestMessageOverLimitIsRefused: a message over a configured limit closes
// that connection (code 1009) and is counted; others are not disturbed.
func TestMessageOverLimitIsRefused(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	r := startRouter(t, router.Config{MaxMessageSize: limit})
	sub := connect(t, r, serialize.MSGPACK)
	ch := make(chan *wamp.Event, 2)
	if err := sub.SubscribeChan("observatory.x.feeds.y", ch, nil); err != nil {
		t.Fatal(err)
	}

	raw := joinRaw(t, r)
	raw.send(`[16,1,{},"observatory.x.feeds.y",["` + strings.Repeat("x", limit+1) + `"]]`)
	_ = raw.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := raw.conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("oversized message: read gave %v, want close 1009", err)
	}
	waitFor(t, "the oversized message to be counted", 5*time.Second, func() bool { return r.Stats().TooLarge == 1 })

	pub := connect(t, r, serialize.MSGPACK)
	if err := pub.Publish("observatory.x.feeds.y", nil, wamp.List{strings.Repeat("y", limit/2)}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ch:
		if s, _ := ev.Arguments[0].(string); len(s) != limit/2 {
			t.Errorf("got %d bytes, want the later %d-byte event", len(s), limit/2)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("message under the limit not delivered")
	}
	if !sub.Connected() {
		t.Error("the subscriber was disconnected")
	}
}

// TestDefaultQueueAbsorbsBurst: with the default 4096-message queue, a
// subscriber that does not read while 2000 events of 8 KiB are published
// (far more than TCP buffers hold, and far more than nexus's default queue
// of 64) still gets every one, and nothing is counted as dropped.
func TestDefaultQueueAbsorbsBurst(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	const events = 2000
	sub := joinRaw(t, r)
	sub.send(`[32,1,{},"observatory.burst.feeds.x"]`)
	sub.recv()
	pub := connect(t, r, serialize.MSGPACK)
	payload := strings.Repeat("z", 8<<10)
	for i := range events {
		opts := wamp.Dict{}
		if i == events-1 {
			opts["acknowledge"] = true // returns once the broker has queued them all
		}
		if err := pub.Publish("observatory.burst.feeds.x", opts, wamp.List{i, payload}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range events {
		text := sub.recv()
		if !strings.HasPrefix(text, "[36,") {
			t.Fatalf("message %d: %.40s", i, text)
		}
	}
	if s := r.Stats(); s.DroppedEvents != 0 {
		t.Errorf("dropped %d events", s.DroppedEvents)
	}
}

// TestDropsAreCounted: with a small queue, events to a subscriber that
// does not read are dropped by nexus, and the router counts them.
func TestDropsAreCounted(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{OutQueueSize: 4})
	sub := joinRaw(t, r)
	sub.send(`[32,1,{},"observatory.drop.feeds.x"]`)
	sub.recv()
	pub := connect(t, r, serialize.MSGPACK)
	payload := strings.Repeat("d", 256<<10)
	for i := 0; r.Stats().DroppedEvents == 0; i++ {
		if i == 2000 {
			t.Fatalf("no drop counted after %d events of 256 KiB to a subscriber that does not read", i)
		}
		if err := pub.Publish("observatory.drop.feeds.x", wamp.Dict{"acknowledge": true}, wamp.List{payload}, nil); err != nil {
			t.Fatal(err)
		}
	}
}
