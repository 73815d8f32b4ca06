package router_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/router"
)

// checkTypes checks that a feed-like payload arrived with ints as integers
// and floats (integral ones included) as floats.
func checkTypes(t *testing.T, who string, payload wamp.Dict) {
	t.Helper()
	for _, k := range []string{"i", "neg"} {
		if !isInteger(payload[k]) {
			t.Errorf("%s: %q arrived as %T %#v, want an integer", who, k, payload[k], payload[k])
		}
	}
	for k, want := range map[string]float64{"f": 2.0, "big": 1e16, "half": 0.5} {
		got, ok := payload[k].(float64)
		if !ok || got != want {
			t.Errorf("%s: %q arrived as %T %#v, want float64 %v", who, k, payload[k], payload[k], want)
		}
	}
}

// TestChecklist02MsgpackToJSON: a msgpack publisher's int 2 and floats 2.0
// and 1e16 reach a JSON subscriber as "2", "2.0" and "1e+16" (Python's
// spelling), so a Python subscriber decodes int and float correctly.
func TestChecklist02MsgpackToJSON(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	sub := joinRaw(t, r)
	sub.send(`[32,1,{},"observatory.a.feeds.b"]`)
	if _, l := sub.recvList(); l[0] != int64(33) {
		t.Fatalf("want SUBSCRIBED, got %v", l)
	}
	pub := connect(t, r, serialize.MSGPACK)
	payload := wamp.Dict{"i": 2, "neg": -3, "f": 2.0, "big": 1e16, "half": 0.5,
		"nan": math.NaN(), "inf": math.Inf(1), "ninf": math.Inf(-1)}
	if err := pub.Publish("observatory.a.feeds.b", nil, wamp.List{payload}, nil); err != nil {
		t.Fatal(err)
	}
	text, l := sub.recvList()
	if l[0] != int64(36) {
		t.Fatalf("want EVENT, got %s", text)
	}
	for _, frag := range []string{`"i":2,`, `"neg":-3`, `"f":2.0`, `"big":1e+16`, `"half":0.5`, `"nan":NaN`, `"inf":Infinity`, `"ninf":-Infinity`} {
		if !strings.Contains(text, frag) {
			t.Errorf("EVENT text %s lacks %s", text, frag)
		}
	}
	args := l[4].([]any)
	checkTypes(t, "json subscriber", asDict(t, args[0]))
}

// TestChecklist02JSONToBinary: a JSON publisher writing like Python (2,
// 2.0, 1e16, NaN, Infinity, -Infinity) reaches msgpack and CBOR subscribers
// with the types intact, and a JSON subscriber with the same text.
func TestChecklist02JSONToBinary(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	events := map[string]chan *wamp.Event{}
	for _, s := range []struct {
		name string
		s    serialize.Serialization
	}{{"msgpack", serialize.MSGPACK}, {"cbor", serialize.CBOR}} {
		c := connect(t, r, s.s)
		ch := make(chan *wamp.Event, 1)
		if err := c.SubscribeChan("observatory.a.feeds.b", ch, nil); err != nil {
			t.Fatal(err)
		}
		events[s.name] = ch
	}
	jsonSub := joinRaw(t, r)
	jsonSub.send(`[32,1,{},"observatory.a.feeds.b"]`)
	jsonSub.recv()

	pub := joinRaw(t, r)
	data := `{"i":2,"neg":-3,"f":2.0,"big":1e16,"half":0.5,"nan":NaN,"inf":Infinity,"ninf":-Infinity}`
	pub.send(`[16,1,{},"observatory.a.feeds.b",[` + data + `]]`)

	for name, ch := range events {
		select {
		case ev := <-ch:
			p := asDict(t, ev.Arguments[0])
			checkTypes(t, name+" subscriber", p)
			if f, _ := p["nan"].(float64); !math.IsNaN(f) {
				t.Errorf("%s: nan arrived as %#v", name, p["nan"])
			}
			if p["inf"] != math.Inf(1) || p["ninf"] != math.Inf(-1) {
				t.Errorf("%s: infinities arrived as %#v, %#v", name, p["inf"], p["ninf"])
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s subscriber got no event", name)
		}
	}
	text, _ := jsonSub.recvList()
	for _, frag := range []string{`"i":2,`, `"f":2.0`, `"big":1e+16`, `"nan":NaN`, `"inf":Infinity`, `"ninf":-Infinity`} {
		if !strings.Contains(text, frag) {
			t.Errorf("JSON subscriber's EVENT %s lacks %s", text, frag)
		}
	}
}

// TestJSONBinaryConvention: a WAMP-JSON binary string reaches a msgpack
// subscriber as bytes, and bytes from msgpack reach JSON as "\u0000<base64>".
func TestJSONBinaryConvention(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	c := connect(t, r, serialize.MSGPACK)
	ch := make(chan *wamp.Event, 1)
	if err := c.SubscribeChan("observatory.bin", ch, nil); err != nil {
		t.Fatal(err)
	}
	raw := joinRaw(t, r)
	raw.send(`[32,1,{},"observatory.bin"]`)
	raw.recv()
	raw.send(`[16,2,{},"observatory.bin",["\u0000AAH/"]]`)
	select {
	case ev := <-ch:
		b, ok := ev.Arguments[0].([]byte)
		if !ok || string(b) != "\x00\x01\xff" {
			t.Errorf("msgpack subscriber got %#v, want bytes 00 01 ff", ev.Arguments[0])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	if err := c.Publish("observatory.bin", nil, wamp.List{[]byte{0, 1, 0xff}}, nil); err != nil {
		t.Fatal(err)
	}
	text := raw.recv()
	if !strings.Contains(text, `["\u0000AAH/"]`) {
		t.Errorf("JSON subscriber got %s", text)
	}
}
