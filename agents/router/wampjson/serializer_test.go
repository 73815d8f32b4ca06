package wampjson_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

// Compile-time check that Serializer plugs into nexus.
var _ serialize.Serializer = wampjson.Serializer{}

func TestSerializePublishKeepsTypes(t *testing.T) {
	msg := &wamp.Publish{
		Request: 7,
		Options: wamp.Dict{},
		Topic:   "observatory.a.feeds.b",
		Arguments: wamp.List{map[string]any{
			"i": int64(2), "f": 2.0, "big": 1e16, "nan": math.NaN(), "bin": []byte{1},
		}},
	}
	b, err := wampjson.Serializer{}.Serialize(msg)
	if err != nil {
		t.Fatal(err)
	}
	want := "[16,7,{},\"observatory.a.feeds.b\",[{\"big\":1e+16,\"bin\":\"\\u0000AQ==\",\"f\":2.0,\"i\":2,\"nan\":NaN}]]"
	if string(b) != want {
		t.Errorf("Serialize = %s\nwant        %s", b, want)
	}
	back, err := wampjson.Serializer{}.Deserialize(b)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := back.(*wamp.Publish)
	if !ok {
		t.Fatalf("Deserialize gave %T", back)
	}
	arg := pub.Arguments[0].(map[string]any)
	if arg["i"] != int64(2) || arg["f"] != 2.0 || arg["big"] != 1e16 {
		t.Errorf("types changed: %#v", arg)
	}
	if f, _ := arg["nan"].(float64); !math.IsNaN(f) {
		t.Errorf("nan came back as %#v", arg["nan"])
	}
	if !reflect.DeepEqual(arg["bin"], []byte{1}) {
		t.Errorf("binary came back as %#v", arg["bin"])
	}
	if pub.Request != 7 || pub.Topic != "observatory.a.feeds.b" {
		t.Errorf("fields: %+v", pub)
	}
}

func TestSerializeOmitsOnlyTrailingEmpties(t *testing.T) {
	cases := []struct {
		msg  wamp.Message
		want string
	}{
		{&wamp.Event{Subscription: 1, Publication: 2, Details: wamp.Dict{}}, `[36,1,2,{}]`},
		{&wamp.Event{Subscription: 1, Publication: 2, Details: wamp.Dict{}, ArgumentsKw: wamp.Dict{"k": int64(1)}}, `[36,1,2,{},[],{"k":1}]`},
		{&wamp.Error{Type: wamp.CALL, Request: 3, Details: wamp.Dict{}, Error: wamp.ErrNoSuchProcedure}, `[8,48,3,{},"wamp.error.no_such_procedure"]`},
		{&wamp.Hello{Realm: "test_realm", Details: wamp.Dict{}}, `[1,"test_realm",{}]`},
		{&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseRealm}, `[6,{},"wamp.close.close_realm"]`},
	}
	for _, c := range cases {
		b, err := wampjson.Serializer{}.Serialize(c.msg)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("Serialize(%#v) = %s, want %s", c.msg, b, c.want)
		}
	}
}

// TestNexusJSONInterop checks that messages written by nexus's own JSON
// serializer decode with ours into the same message, and the reverse.
func TestNexusJSONInterop(t *testing.T) {
	msgs := []wamp.Message{
		&wamp.Hello{Realm: "r", Details: wamp.Dict{"roles": map[string]any{"caller": map[string]any{}}}},
		&wamp.Call{Request: 5, Options: wamp.Dict{}, Procedure: "observatory.x.ops", Arguments: wamp.List{"status", "record", map[string]any{}}},
		&wamp.Result{Request: 5, Details: wamp.Dict{}, Arguments: wamp.List{[]any{int64(0), "ok", map[string]any{}}}},
		&wamp.Subscribe{Request: 9, Options: wamp.Dict{"match": "wildcard"}, Topic: "observatory..feeds."},
		&wamp.Error{Type: wamp.INVOCATION, Request: 4, Details: wamp.Dict{}, Error: "wamp.error.runtime_error", Arguments: wamp.List{"boom"}},
	}
	nexusJSON := &serialize.JSONSerializer{}
	for _, m := range msgs {
		b, err := nexusJSON.Serialize(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wampjson.Serializer{}.Deserialize(b)
		if err != nil {
			t.Fatalf("decoding nexus output %s: %v", b, err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(m)) {
			t.Errorf("nexus %s decoded as %#v, want %#v", b, got, m)
		}
		ours, err := wampjson.Serializer{}.Serialize(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nexusJSON.Deserialize(ours); err != nil {
			t.Errorf("nexus cannot read our %s: %v", ours, err)
		}
	}
}

func TestDeserializeRejects(t *testing.T) {
	for _, in := range []string{`{}`, `[]`, `["x"]`, `[999]`, `[16,"notanid",{},"t"]`, `[16,-1,{},"t"]`, `[1,"r",{},1,2,3]`, `[16,1,[],"t"]`} {
		if m, err := (wampjson.Serializer{}).Deserialize([]byte(in)); err == nil {
			t.Errorf("Deserialize(%s) = %#v, want an error", in, m)
		}
	}
}

// normalize makes integer representations comparable (nexus's JSON decoder
// gives uint64 for non-negative integers).
func normalize(m wamp.Message) wamp.Message {
	b, err := wampjson.Serializer{}.Serialize(m)
	if err != nil {
		panic(err)
	}
	out, err := wampjson.Serializer{}.Deserialize(b)
	if err != nil {
		panic(err)
	}
	return out
}
