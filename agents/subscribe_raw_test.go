package agents_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents"
	"github.com/ocsflux/ocsflux/feeds"
)

// rawLog collects what a subscription's handler saw.
type rawLog struct {
	mu     sync.Mutex
	raw    int     // events with Raw set
	args   [][]any // Args, after DecodeRaw when Raw was set
	kwargs []map[string]any
	topics []string
	bad    []string
}

func (l *rawLog) handler(ev *agents.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ev.Raw != nil {
		l.raw++
		if ev.Args != nil || ev.Kwargs != nil {
			l.bad = append(l.bad, "Args or Kwargs set next to Raw")
		}
		// Raw is the whole EVENT, with the same Details.
		head, ok := feeds.DecodeMsgpackEventHead(ev.Raw)
		if !ok || !reflect.DeepEqual(map[string]any(head.Details), ev.Details) {
			l.bad = append(l.bad, fmt.Sprintf("Raw % x does not hold the event's details %v", ev.Raw, ev.Details))
		}
		if err := ev.DecodeRaw(); err != nil {
			l.bad = append(l.bad, err.Error())
		}
	}
	l.args = append(l.args, ev.Args)
	l.kwargs = append(l.kwargs, ev.Kwargs)
	l.topics = append(l.topics, ev.Topic)
}

func (l *rawLog) get() (raw int, args [][]any, topics []string, bad []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.raw, append([][]any(nil), l.args...), append([]string(nil), l.topics...), append([]string(nil), l.bad...)
}

func (l *rawLog) getKwargs() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]map[string]any(nil), l.kwargs...)
}

// TestSubscribeRawMsgpack: with RawMsgpack, a msgpack agent's handler gets
// each event undecoded (Raw, inline and queued subscriptions), and
// DecodeRaw gives exactly the arguments a plain subscription receives for
// the same publication; on JSON and CBOR connections, events arrive
// decoded. Plain subscriptions and RPCs on the same connection are
// unaffected.
func TestSubscribeRawMsgpack(t *testing.T) {
	for _, ser := range []string{"msgpack", "json", "cbor"} {
		t.Run(ser, func(t *testing.T) {
			raw, rawQ, plain := &rawLog{}, &rawLog{}, &rawLog{}
			f := newFixture(t, func(cfg *agents.Config) { cfg.Serialization = ser }, func(a *agents.Agent) {
				_, err := a.Subscribe("raw.", agents.MatchPrefix, raw.handler, agents.RawMsgpack())
				must(t, err)
				_, err = a.SubscribeQueued("rawq.x", agents.MatchExact, 64, rawQ.handler, agents.RawMsgpack())
				must(t, err)
				_, err = a.Subscribe("plain.x", agents.MatchExact, plain.handler)
				must(t, err)
			})
			pub := dialClient(t, f.tr, 0)
			const n = 30
			for i := range n {
				pair := wamp.List{
					map[string]any{"b": map[string]any{"block_name": "b", "timestamps": []any{1.5 + float64(i)},
						"data": map[string]any{"x": []any{i}, "y": []any{0.25}, "s": []any{"é"}, "t": []any{true}}}},
					map[string]any{"agent_address": "observatory.a", "feed_name": "f", "record": true, "agg_params": map[string]any{}},
				}
				for _, topic := range []string{"raw.a.feeds.f", "rawq.x", "plain.x"} {
					var kwargs wamp.Dict
					if i%2 == 1 {
						kwargs = wamp.Dict{"k": i}
					}
					if err := pub.Publish(topic, nil, wamp.List{pair}, kwargs); err != nil {
						t.Fatal(err)
					}
				}
			}
			waitFor(t, 10*time.Second, "all events", func() bool {
				_, a, _, _ := raw.get()
				_, b, _, _ := rawQ.get()
				_, c, _, _ := plain.get()
				return len(a) == n && len(b) == n && len(c) == n
			})
			// RPCs still work on the connection.
			if r := f.ops(t, []any{"status", "record"}, nil); r.msg != "No session active." {
				t.Errorf("status: %v", r.msg)
			}
			wantRaw := 0
			if ser == "msgpack" {
				wantRaw = n
			}
			_, plainArgs, _, _ := plain.get()
			for name, l := range map[string]*rawLog{"raw": raw, "queued raw": rawQ, "plain": plain} {
				nraw, args, topics, bad := l.get()
				if name == "plain" {
					if nraw != 0 {
						t.Errorf("plain subscription got %d raw events", nraw)
					}
					continue
				}
				if nraw != wantRaw {
					t.Errorf("%s: %d raw events, want %d", name, nraw, wantRaw)
				}
				for _, b := range bad {
					t.Errorf("%s: %s", name, b)
				}
				if !reflect.DeepEqual(args, plainArgs) {
					t.Errorf("%s: arguments differ from the plain subscription's:\n%v\n%v", name, args, plainArgs)
				}
				if kw, want := l.getKwargs(), plain.getKwargs(); !reflect.DeepEqual(kw, want) || want[1] == nil {
					t.Errorf("%s: keyword arguments differ from the plain subscription's:\n%v\n%v", name, kw, want)
				}
				if name == "raw" && topics[0] != "raw.a.feeds.f" {
					t.Errorf("raw topic %q", topics[0])
				}
			}
		})
	}
}
