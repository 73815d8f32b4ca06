package client_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ocsflux/ocsflux/agents/client"
	"github.com/ocsflux/ocsflux/agents/client/clienttest"
	"github.com/ocsflux/ocsflux/agents/router"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startRouter runs a router on a free loopback port until the test ends.
func startRouter(t *testing.T) *router.Router {
	t.Helper()
	r, err := router.New(router.Config{Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("router: %v", err)
		}
	})
	select {
	case <-r.Ready():
	case err := <-errc:
		t.Fatalf("router: %v", err)
	}
	return r
}

// opsClient is what both clients offer.
type opsClient interface {
	GetAPI(ctx context.Context) (map[string]any, error)
	Ops(ctx context.Context, action, op string, params map[string]any, timeout *float64) (client.Reply, error)
}

func clients(t *testing.T, r *router.Router, address string) map[string]opsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := client.DialWAMP(ctx, client.WAMPConfig{URL: r.WSURL(), Realm: "test_realm", Address: address})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return map[string]opsClient{
		"http": &client.HTTP{URL: r.CallURL(), Address: address},
		"wamp": w,
	}
}

func f(v float64) *float64 { return &v }

// TestOpsLikeOCSClient drives a fake agent through the sequence of
// reference-output.md §1 and checks both what the agent received (OCSClient's
// arguments) and the decoded replies.
func TestOpsLikeOCSClient(t *testing.T) {
	r := startRouter(t)
	for name, c := range clients(t, r, "observatory.influxagent") {
		t.Run(name, func(t *testing.T) {
			agent := clienttest.Start(t, r.WSURL(), "observatory", "influxagent")
			ctx := context.Background()

			api, err := c.GetAPI(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if api["agent_class"] != "InfluxDBAgent" || api["instance_pid"] != int64(7) {
				t.Errorf("api %v", api)
			}
			ac := api["access_control"].(map[string]any)
			if ac["update_timestamp"] != 1795294559.9136703 || ac["version"] != int64(1) {
				t.Errorf("access_control %v", ac)
			}

			steps := []struct {
				action  string
				params  map[string]any
				timeout *float64
				status  client.Status
				msg     string
				session bool
			}{
				{"status", nil, nil, client.OK, "No session active.", false},
				{"wait", nil, f(1), client.OK, "Idle.", false},
				{"start", map[string]any{"test_mode": "yes"}, nil, client.ERROR, "Param 'test_mode'=yes is not of required type (<class 'bool'>)", false},
				{"start", nil, nil, client.OK, `Started process "record".`, true},
				{"start", nil, nil, client.ERROR, `Operation "record" already in progress.`, true},
				{"wait", nil, f(0), client.TIMEOUT, `Operation "record" still running; wait timed out.`, true},
				{"stop", nil, nil, client.OK, `Requested stop on process record".`, true},
				{"wait", nil, nil, client.OK, `Operation "record" is currently not running (SUCCEEDED).`, true},
				{"abort", nil, nil, client.ERROR, `Cannot "abort" "record" because it is a "{op_type}".`, false},
			}
			for _, s := range steps {
				reply, err := c.Ops(ctx, s.action, "record", s.params, s.timeout)
				if err != nil {
					t.Fatalf("%s: %v", s.action, err)
				}
				if reply.Status != s.status || reply.Message != s.msg || (len(reply.Session) > 0) != s.session {
					t.Errorf("%s: got %v %q session=%v, want %v %q session=%v",
						s.action, reply.Status, reply.Message, len(reply.Session) > 0, s.status, s.msg, s.session)
				}
				if s.session {
					if _, ok := reply.Session["session_id"].(int64); !ok {
						t.Errorf("%s: session_id %#v is not an int", s.action, reply.Session["session_id"])
					}
					if _, ok := reply.Session["start_time"].(float64); !ok {
						t.Errorf("%s: start_time %#v is not a float", s.action, reply.Session["start_time"])
					}
				}
			}

			// What OCSClient sends, call by call.
			calls := agent.Calls()
			want := []struct {
				args   []any
				kwargs map[string]any
			}{
				{[]any{"status", "record", map[string]any{}}, nil},
				{[]any{"wait", "record", map[string]any{}}, map[string]any{"timeout": 1.0}},
				{[]any{"start", "record", map[string]any{"test_mode": "yes"}}, nil},
				{[]any{"start", "record", map[string]any{}}, nil},
				{[]any{"start", "record", map[string]any{}}, nil},
				{[]any{"wait", "record", map[string]any{}}, map[string]any{"timeout": 0.0}},
				{[]any{"stop", "record", map[string]any{}}, nil},
				{[]any{"wait", "record", map[string]any{}}, map[string]any{"timeout": nil}},
				{[]any{"abort", "record", map[string]any{}}, nil},
			}
			calls = calls[1:] // get_api
			if len(calls) != len(want) {
				t.Fatalf("agent received %d ops calls, want %d", len(calls), len(want))
			}
			for i, w := range want {
				got := calls[i]
				if got.Procedure != "observatory.influxagent.ops" || !sameJSON(got.Args, w.args) || !sameJSON(got.Kwargs, w.kwargs) {
					t.Errorf("call %d: %s %v %v, want args %v kwargs %v", i, got.Procedure, got.Args, got.Kwargs, w.args, w.kwargs)
				}
			}
		})
	}
}

// sameJSON compares decoded values loosely: nil and empty maps alike, any
// integer type alike.
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil || reflect.ValueOf(b).Len() == 0
	case map[string]any:
		y, _ := b.(map[string]any)
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !sameJSON(v, y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, _ := b.([]any)
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if b == nil {
		v := reflect.ValueOf(a)
		return (v.Kind() == reflect.Map || v.Kind() == reflect.Slice) && v.Len() == 0
	}
	return reflect.DeepEqual(a, b)
}

// TestErrorsLikeControlClientError: the failures OCSClient reports.
func TestErrorsLikeControlClientError(t *testing.T) {
	r := startRouter(t)
	ctx := context.Background()

	// Agent not running: the WAMP error with crossbar's text, over both.
	for name, c := range clients(t, r, "observatory.nobody") {
		_, err := c.Ops(ctx, "status", "record", nil, nil)
		var e *client.Error
		if !errors.As(err, &e) || e.URI != "wamp.error.no_such_procedure" ||
			len(e.Args) != 1 || e.Args[0] != "no callee registered for procedure <observatory.nobody.ops>" {
			t.Errorf("%s: agent not running: %#v", name, err)
		}
		if err != nil && err.Error() != "wamp.error.no_such_procedure: no callee registered for procedure <observatory.nobody.ops>" {
			t.Errorf("%s: error text %q", name, err.Error())
		}
	}

	// Nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	h := &client.HTTP{URL: "http://" + dead + "/call", Address: "observatory.x"}
	_, err = h.GetAPI(ctx)
	var e *client.Error
	if !errors.As(err, &e) || e.URI != client.ErrConnection || e.Args[0] != "Failed to connect to http://"+dead+"/call" {
		t.Errorf("http to a closed port: %#v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = client.DialWAMP(wctx, client.WAMPConfig{URL: "ws://" + dead + "/ws", Address: "observatory.x"})
	if !errors.As(err, &e) || e.URI != client.ErrConnection || e.Args[0] != "Failed to connect to ws://"+dead+"/ws" {
		t.Errorf("wamp to a closed port: %#v", err)
	}

	// A server without the bridge at that path.
	h = &client.HTTP{URL: "http://" + r.Addr().String() + "/nope", Address: "observatory.x"}
	_, err = h.GetAPI(ctx)
	if !errors.As(err, &e) || e.URI != client.ErrRequest || e.StatusCode != 404 || e.Args[0] != "Server replied with code 404" {
		t.Errorf("http to a wrong path: %#v", err)
	}
}

func TestParseParams(t *testing.T) {
	got, err := client.ParseParams([]string{"test_mode=true", "n=1", "x=1.0", "s=hello", "q=\"quoted\"",
		"l=[1, 2.5]", "d={\"a\": null}", "py=True", "empty=", "eq=a=b", "nil=null"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"test_mode": true, "n": int64(1), "x": 1.0, "s": "hello", "q": "quoted",
		"l": []any{int64(1), 2.5}, "d": map[string]any{"a": nil}, "py": "True", "empty": "", "eq": "a=b", "nil": nil}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseParams = %#v\nwant %#v", got, want)
	}
	for _, bad := range [][]string{{"novalue"}, {"=1"}, {"a=1", "a=2"}} {
		if _, err := client.ParseParams(bad); err == nil {
			t.Errorf("ParseParams(%q) succeeded", bad)
		}
	}
}

func TestErrorText(t *testing.T) {
	e := &client.Error{URI: "ocs.error", Args: []any{"bad", int64(2), 2.0}, Kwargs: map[string]any{"b": true, "a": "x"}}
	if got, want := e.Error(), `ocs.error: bad, 2, 2.0, a="x", b=true`; got != want {
		t.Errorf("Error() = %s, want %s", got, want)
	}
	if !strings.HasPrefix((&client.Error{URI: client.ErrRequest}).Error(), client.ErrRequest) {
		t.Error("bare error text")
	}
}
