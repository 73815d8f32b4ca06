package router_test

import (
	"context"
	"io"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	nxclient "github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/router"
)

// opsReply is what an OCS agent's .ops procedure yields for status.
func opsReply() wamp.List {
	return wamp.List{wamp.List{0, "Session active.", wamp.Dict{
		"session_id": 1, "op_name": "record", "op_code": 3, "status": "running",
		"success": nil, "start_time": 1795294567.9462838, "end_time": nil,
		"data":     wamp.Dict{"connected": true, "last_updated": 1795294581.0},
		"messages": wamp.List{wamp.List{1795294567.9462838, "Status is now \"starting\"."}},
	}}}
}

// TestChecklist06BridgeSuccess: the exact request OCS's client_http sends
// (POST, json.dumps body, no Content-Type) gets HTTP 200,
// application/json; charset=UTF-8 and {"args": [result]} without "kwargs";
// ints stay ints and floats floats.
func TestChecklist06BridgeSuccess(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	callee := connect(t, r, serialize.MSGPACK)
	var gotArgs wamp.List
	var gotKwargs wamp.Dict
	register(t, callee, "observatory.influxagent.ops", func(_ context.Context, inv *wamp.Invocation) nxclient.InvokeResult {
		gotArgs, gotKwargs = inv.Arguments, inv.ArgumentsKw
		return nxclient.InvokeResult{Args: opsReply()}
	})

	// json.dumps({'procedure': p, 'args': args, 'kwargs': kwargs}) as Python writes it.
	body := `{"procedure": "observatory.influxagent.ops", "args": ["wait", "record", {}], "kwargs": {"timeout": 10}}`
	status, hdr, reply := postCall(t, r.CallURL(), body)
	if status != http.StatusOK {
		t.Fatalf("status %d, body %s", status, reply)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	m := decodeObject(t, reply)
	if _, ok := m["kwargs"]; ok {
		t.Errorf("reply has a kwargs key: %s", reply)
	}
	if len(m) != 1 {
		t.Errorf("reply keys: %s", reply)
	}
	args, ok := m["args"].([]any)
	if !ok || len(args) != 1 {
		t.Fatalf("args: %s", reply)
	}
	res := args[0].([]any)
	if res[0] != int64(0) || res[1] != "Session active." {
		t.Errorf("result %#v", res)
	}
	sess := res[2].(map[string]any)
	if sess["session_id"] != int64(1) || sess["start_time"] != 1795294567.9462838 || sess["success"] != nil {
		t.Errorf("session types: %#v", sess)
	}
	if lu := sess["data"].(map[string]any)["last_updated"]; lu != 1795294581.0 {
		t.Errorf("integral float came back as %#v", lu)
	}
	if !strings.Contains(reply, "1795294581.0") {
		t.Errorf("integral float not written as a float: %s", reply)
	}
	// The callee saw the call as OCS made it.
	if len(gotArgs) != 3 || gotArgs[0] != "wait" || gotArgs[1] != "record" {
		t.Errorf("callee args %#v", gotArgs)
	}
	if !isInteger(gotKwargs["timeout"]) {
		t.Errorf("callee kwargs %#v: timeout should be an integer", gotKwargs)
	}

	// PUT works too, and so does an explicit application/json.
	for _, c := range []struct{ method, ct string }{
		{http.MethodPut, ""},
		{http.MethodPost, "application/json"},
		{http.MethodPost, "application/json; charset=utf-8"},
		{http.MethodPost, "Application/JSON; charset=UTF8"},
	} {
		if st, _, rep := doHTTP(t, c.method, r.CallURL(), c.ct, body); st != http.StatusOK || !strings.HasPrefix(rep, `{"args":[[0,`) {
			t.Errorf("%s with Content-Type %q: %d %s", c.method, c.ct, st, rep)
		}
	}
}

// TestBridgeResultShapes follows crossbar: args/kwargs as yielded, one
// positional result unwrapped into {"args": [x]}, nothing → {"args": [null]}.
func TestBridgeResultShapes(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	callee := connect(t, r, serialize.MSGPACK)
	results := map[string]nxclient.InvokeResult{
		"one":    {Args: wamp.List{"x"}},
		"none":   {},
		"two":    {Args: wamp.List{1, 2.5}},
		"kw":     {Kwargs: wamp.Dict{"a": 1}},
		"argskw": {Args: wamp.List{"x"}, Kwargs: wamp.Dict{"a": 1}},
		"nan":    {Args: wamp.List{math.NaN()}},
	}
	for name, res := range results {
		register(t, callee, "observatory.shape."+name, func(context.Context, *wamp.Invocation) nxclient.InvokeResult { return res })
	}
	want := map[string]string{
		"one":    `{"args":["x"]}`,
		"none":   `{"args":[null]}`,
		"two":    `{"args":[1,2.5]}`,
		"kw":     `{"kwargs":{"a":1}}`,
		"argskw": `{"args":["x"],"kwargs":{"a":1}}`,
		"nan":    `{"args":[NaN]}`,
	}
	for name, w := range want {
		st, _, reply := postCall(t, r.CallURL(), `{"procedure": "observatory.shape.`+name+`", "args": [], "kwargs": {}}`)
		if st != http.StatusOK || reply != w {
			t.Errorf("%s: %d %s, want 200 %s", name, st, reply, w)
		}
	}
}

// TestChecklist07BridgeWAMPError: a WAMP error is HTTP 200 with "error",
// "args" and "kwargs" all present, even when empty.
func TestChecklist07BridgeWAMPError(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	callee := connect(t, r, serialize.CBOR)
	register(t, callee, "observatory.fail.bare", func(context.Context, *wamp.Invocation) nxclient.InvokeResult {
		return nxclient.InvokeResult{Err: "wamp.error.runtime_error"}
	})
	register(t, callee, "observatory.fail.full", func(context.Context, *wamp.Invocation) nxclient.InvokeResult {
		return nxclient.InvokeResult{Err: "ocs.error.custom", Args: wamp.List{"bad", 2}, Kwargs: wamp.Dict{"x": 1.0}}
	})
	cases := []struct {
		procedure string
		want      map[string]any
	}{
		{"observatory.fail.bare", map[string]any{"error": "wamp.error.runtime_error", "args": []any{}, "kwargs": map[string]any{}}},
		{"observatory.fail.full", map[string]any{"error": "ocs.error.custom", "args": []any{"bad", int64(2)}, "kwargs": map[string]any{"x": 1.0}}},
		{"observatory.influxagent", map[string]any{"error": "wamp.error.no_such_procedure",
			"args": []any{"no callee registered for procedure <observatory.influxagent>"}, "kwargs": map[string]any{}}},
		{"other.influxagent", map[string]any{"error": "wamp.error.not_authorized",
			"args": []any{"session is not authorized to call procedure 'other.influxagent'"}, "kwargs": map[string]any{}}},
	}
	for _, c := range cases {
		st, hdr, reply := postCall(t, r.CallURL(), `{"procedure": "`+c.procedure+`", "args": ["get_api"], "kwargs": {}}`)
		if st != http.StatusOK {
			t.Errorf("%s: status %d (%s)", c.procedure, st, reply)
		}
		if ct := hdr.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
			t.Errorf("%s: Content-Type %q", c.procedure, ct)
		}
		if got := decodeObject(t, reply); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: reply %s, want %#v", c.procedure, reply, c.want)
		}
	}
}

// TestChecklist08BridgeRefusals: methods other than POST/PUT/OPTIONS get
// 405, bad bodies 400, content types other than JSON 415, all with the
// error triple. (Origins: origin_test.go.)
func TestChecklist08BridgeRefusals(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{MaxMessageSize: 4096})
	cases := []struct {
		name, method, ct, body string
		status                 int
	}{
		{"GET", http.MethodGet, "", "", http.StatusMethodNotAllowed},
		{"DELETE", http.MethodDelete, "", "", http.StatusMethodNotAllowed},
		{"invalid JSON", http.MethodPost, "", `{"procedure": `, http.StatusBadRequest},
		{"empty body", http.MethodPost, "", ``, http.StatusBadRequest},
		{"not an object", http.MethodPost, "", `["observatory.x"]`, http.StatusBadRequest},
		{"no procedure", http.MethodPost, "", `{"args": [], "kwargs": {}}`, http.StatusBadRequest},
		{"procedure not a string", http.MethodPost, "", `{"procedure": 1}`, http.StatusBadRequest},
		{"args not a list", http.MethodPost, "", `{"procedure": "observatory.x", "args": {}}`, http.StatusBadRequest},
		{"kwargs not an object", http.MethodPost, "", `{"procedure": "observatory.x", "kwargs": []}`, http.StatusBadRequest},
		{"other content type", http.MethodPost, "text/plain", `{"procedure": "observatory.x"}`, http.StatusUnsupportedMediaType},
		{"other charset", http.MethodPost, "application/json; charset=latin-1", `{"procedure": "observatory.x"}`, http.StatusUnsupportedMediaType},
		{"invalid UTF-8", http.MethodPost, "", "{\"procedure\": \"observatory.\xff\"}", http.StatusBadRequest},
		{"too large", http.MethodPost, "", `{"procedure": "observatory.x", "args": ["` + strings.Repeat("x", 5000) + `"]}`, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		st, hdr, reply := doHTTP(t, c.method, r.CallURL(), c.ct, c.body)
		if st != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, st, c.status, reply)
			continue
		}
		m := decodeObject(t, reply)
		if e, _ := m["error"].(string); e == "" || !reflect.DeepEqual(m["args"], []any{}) || !reflect.DeepEqual(m["kwargs"], map[string]any{}) {
			t.Errorf("%s: body %s, want error text with empty args and kwargs", c.name, reply)
		}
		if c.status == http.StatusMethodNotAllowed && hdr.Get("Allow") != "POST,PUT,OPTIONS" {
			t.Errorf("%s: Allow %q", c.name, hdr.Get("Allow"))
		}
	}

	// OPTIONS without an Origin (not a CORS preflight): the methods.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodOptions, r.CallURL(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Allow") != "POST,PUT,OPTIONS" {
		t.Errorf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestChecklist08BridgeLongWait: a call that takes longer than every
// timeout on the bridge's path (the in-process session's 2 s response
// timeout included) is answered, not cut off.
func TestChecklist08BridgeLongWait(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	callee := connect(t, r, serialize.MSGPACK)
	const wait = 3 * time.Second
	register(t, callee, "observatory.slow.ops", func(ctx context.Context, _ *wamp.Invocation) nxclient.InvokeResult {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nxclient.InvokeResult{Err: wamp.ErrCanceled}
		}
		return nxclient.InvokeResult{Args: wamp.List{wamp.List{0, `Operation "acq" is currently not running (SUCCEEDED).`, wamp.Dict{}}}}
	})
	start := time.Now()
	st, _, reply := postCall(t, r.CallURL(), `{"procedure": "observatory.slow.ops", "args": ["wait", "acq", {}], "kwargs": {"timeout": null}}`)
	if st != http.StatusOK || !strings.Contains(reply, "SUCCEEDED") {
		t.Errorf("long wait: %d %s", st, reply)
	}
	if took := time.Since(start); took < wait {
		t.Errorf("answered after %s, before the callee finished", took)
	}
}

// TestBridgeClientGoneCancelsCall: when the HTTP client goes away, the
// call is cancelled and the callee sees it.
func TestBridgeClientGoneCancelsCall(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	callee := connect(t, r, serialize.MSGPACK)
	started := make(chan struct{})
	cancelled := make(chan struct{})
	register(t, callee, "observatory.hang.ops", func(ctx context.Context, _ *wamp.Invocation) nxclient.InvokeResult {
		close(started)
		select {
		case <-ctx.Done():
			close(cancelled)
		case <-time.After(30 * time.Second):
			t.Errorf("call was not cancelled within 30 s")
		}
		return nxclient.InvokeResult{Err: wamp.ErrCanceled}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.CallURL(),
		strings.NewReader(`{"procedure": "observatory.hang.ops", "args": [], "kwargs": {}}`))
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("callee not invoked")
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("request succeeded although cancelled")
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("callee did not see the cancellation")
	}
}

// TestBridgeRouterFailure: a call in flight when the router shuts down is
// answered with crossbar's HTTP 500 reply.
func TestBridgeRouterFailure(t *testing.T) {
	t.Parallel()
	cfg := router.Config{Listen: "127.0.0.1:0", Logger: testLogger(t)}
	r, err := router.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(ctx) }()
	<-r.Ready()
	callee := connect(t, r, serialize.MSGPACK)
	started := make(chan struct{})
	register(t, callee, "observatory.hang.ops", func(ctx context.Context, _ *wamp.Invocation) nxclient.InvokeResult {
		close(started)
		<-ctx.Done()
		return nxclient.InvokeResult{Err: wamp.ErrCanceled}
	})
	type reply struct {
		status int
		body   string
	}
	replies := make(chan reply, 1)
	go func() {
		resp, err := http.Post(r.CallURL(), "", strings.NewReader(`{"procedure": "observatory.hang.ops", "args": [], "kwargs": {}}`))
		if err != nil {
			t.Errorf("POST: %v", err)
			replies <- reply{}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Errorf("read reply: %v", err)
		}
		replies <- reply{resp.StatusCode, string(b)}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("callee not invoked")
	}
	stop()
	select {
	case got := <-replies:
		want := `{"args":["Sorry, Crossbar.io has encountered a problem."],"error":"wamp.error.runtime_error","kwargs":{}}`
		if got.status != http.StatusInternalServerError || got.body != want {
			t.Errorf("reply %d %s, want 500 %s", got.status, got.body, want)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no reply after shutdown")
	}
	if err := <-runErr; err != nil {
		t.Errorf("Run: %v", err)
	}
}
