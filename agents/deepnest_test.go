package agents_test

import (
	"io"
	"log"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents"
)

// deepSeen is one event a deepLog handler received.
type deepSeen struct {
	topic     string
	err       error // Event.Err
	raw       bool  // Raw was set
	decodeErr error // what DecodeRaw returned
	args      []any
	kwargs    map[string]any
}

// deepLog collects what a subscription's handler saw, handling the event
// as the InfluxDB agent does: an event with Raw is decoded by DecodeRaw,
// whose error is what the agent counts as a bad event.
type deepLog struct {
	mu   sync.Mutex
	seen []deepSeen
}

func (l *deepLog) handler(ev *agents.Event) {
	s := deepSeen{topic: ev.Topic, err: ev.Err, raw: ev.Raw != nil}
	s.decodeErr = ev.DecodeRaw()
	s.args, s.kwargs = ev.Args, ev.Kwargs
	l.mu.Lock()
	l.seen = append(l.seen, s)
	l.mu.Unlock()
}

// events returns what was received after the warm-up events.
func (l *deepLog) events() []deepSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for i < len(l.seen) && reflect.DeepEqual(l.seen[i].args, []any{"warm-up"}) {
		i++
	}
	return append([]deepSeen(nil), l.seen[i:]...)
}

func (l *deepLog) warm() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen) > 0
}

// nested returns depth lists nested around 1.5.
func nested(depth int) any {
	var v any = 1.5
	for range depth {
		v = []any{v}
	}
	return v
}

// deepFeedArgs is the argument of an OCS feed event, [message, feed_info],
// whose block holds the value v in field "x" next to a valid field "y".
func deepFeedArgs(ts float64, v any) []any {
	return []any{[]any{
		map[string]any{"b": map[string]any{"block_name": "b", "timestamps": []any{ts},
			"data": map[string]any{"x": []any{v}, "y": []any{0.25}}}},
		map[string]any{"agent_address": "observatory.a", "feed_name": "f", "record": true, "agg_params": map[string]any{}},
	}}
}

// TestDeeplyNestedEvent: a feed event whose data nests a value deeper than
// the WAMP decoders allow is not dropped by the connection: the handler of
// the subscription gets it with Err naming the topic and the problem, Args
// Kwargs and Raw nil, and DecodeRaw returning Err; the event one level less deep (beyond
// the limit of feeds' msgpack decoders, within nexus's) and a normal event
// published after it arrive decoded, and the agent still answers RPCs. For
// msgpack (raw subscriptions inline and queued, plain), JSON and CBOR
// connections.
//
// The value is in field x of block b: message array, arguments, pair,
// message, block, data and x's list are 7 levels; nexus's codec (ugorji's
// default MaxDepth) refuses the 1024th, so 7+1016 decodes and 7+1017 not.
//
// The events are published by a client local to the router: the router
// would refuse such a PUBLISH from a WebSocket client with the same
// decoder, but encodes the EVENT without limit, as a router written in
// another language may also send it.
func TestDeeplyNestedEvent(t *testing.T) {
	for _, ser := range []string{"msgpack", "json", "cbor"} {
		t.Run(ser, func(t *testing.T) {
			raw, rawQ, plain := &deepLog{}, &deepLog{}, &deepLog{}
			f := newFixture(t, func(cfg *agents.Config) { cfg.Serialization = ser }, func(a *agents.Agent) {
				_, err := a.Subscribe("raw..feeds.", agents.MatchWildcard, raw.handler, agents.RawMsgpack())
				must(t, err)
				_, err = a.SubscribeQueued("rawq.a.feeds.f", agents.MatchExact, 16, rawQ.handler, agents.RawMsgpack())
				must(t, err)
				_, err = a.Subscribe("plain.a.feeds.f", agents.MatchExact, plain.handler)
				must(t, err)
			})
			pub, err := client.ConnectLocal(f.tr.r, client.Config{Realm: testRealm, ResponseTimeout: 5 * time.Second,
				Logger: log.New(io.Discard, "", 0)})
			if err != nil {
				t.Fatalf("local client: %v", err)
			}
			t.Cleanup(func() { _ = pub.Close() })
			logs := map[string]*deepLog{"raw.a.feeds.f": raw, "rawq.a.feeds.f": rawQ, "plain.a.feeds.f": plain}
			// The agent subscribes after it registered: publish until
			// every subscription is in place.
			waitFor(t, 10*time.Second, "subscriptions", func() bool {
				all := true
				for topic, l := range logs {
					if !l.warm() {
						all = false
						must(t, pub.Publish(topic, nil, wamp.List{"warm-up"}, nil))
					}
				}
				if !all {
					time.Sleep(50 * time.Millisecond)
				}
				return all
			})
			const tooDeep, deepOK = 1017, 1016
			for topic := range logs {
				must(t, pub.Publish(topic, nil, deepFeedArgs(1, nested(tooDeep)), wamp.Dict{"k": 1}))
				must(t, pub.Publish(topic, nil, deepFeedArgs(2, nested(deepOK)), nil))
				must(t, pub.Publish(topic, nil, deepFeedArgs(3, 2.5), nil))
			}
			waitFor(t, 10*time.Second, "all events", func() bool {
				for _, l := range logs {
					if len(l.events()) < 3 {
						return false
					}
				}
				return true
			})
			if r := f.ops(t, []any{"status", "record"}, nil); r.msg != "No session active." {
				t.Errorf("status after a deeply nested event: %v", r.msg)
			}
			for topic, l := range logs {
				evs := l.events()
				if len(evs) != 3 {
					t.Errorf("%s: %d events, want 3", topic, len(evs))
					continue
				}
				rawSub := topic != "plain.a.feeds.f"
				bad := evs[0]
				switch {
				case bad.err == nil:
					t.Errorf("%s: the too deep event arrived without an error: %v", topic, bad.args)
				case !strings.Contains(bad.err.Error(), topic) || !strings.Contains(bad.err.Error(), "nested deeper than 1023 levels"):
					t.Errorf("%s: error %q does not name the topic and the problem", topic, bad.err)
				}
				if bad.decodeErr != bad.err {
					t.Errorf("%s: DecodeRaw returned %v, want Err %v", topic, bad.decodeErr, bad.err)
				}
				if bad.raw {
					t.Errorf("%s: the too deep event has Raw", topic)
				}
				if bad.topic != topic || bad.args != nil || bad.kwargs != nil {
					t.Errorf("%s: too deep event has topic %q, args %v, kwargs %v", topic, bad.topic, bad.args, bad.kwargs)
				}
				for i, want := range [][]any{deepFeedArgs(2, nested(deepOK)), deepFeedArgs(3, 2.5)} {
					ev := evs[i+1]
					if ev.err != nil || ev.decodeErr != nil {
						t.Errorf("%s: event %d: %v, %v", topic, i+1, ev.err, ev.decodeErr)
					}
					if ev.topic != topic || !reflect.DeepEqual(ev.args, want) || ev.kwargs != nil {
						t.Errorf("%s: event %d on %q differs from what was published: %v", topic, i+1, ev.topic, ev.args)
					}
				}
				if evs[2].raw != (rawSub && ser == "msgpack") {
					t.Errorf("%s: normal event has Raw %v", topic, evs[2].raw)
				}
			}
		})
	}
}
