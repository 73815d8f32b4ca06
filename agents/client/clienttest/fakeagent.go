package clienttest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	nxclient "github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"
)

// Call is one invocation the fake agent received.
type Call struct {
	Procedure string
	Args      []any
	Kwargs    map[string]any
}

// FakeAgent is a fake OCS agent with one process, "record".
type FakeAgent struct {
	Address string

	mu        sync.Mutex
	calls     []Call
	nextID    int64
	session   map[string]any // nil: never started
	startedAt float64
}

// Start joins a msgpack session at wsURL (realm test_realm) and registers
// <root>.<instanceID>.ops and <root>.<instanceID>. It leaves when the test
// ends.
func Start(t testing.TB, wsURL, addressRoot, instanceID string) *FakeAgent {
	t.Helper()
	a := &FakeAgent{Address: addressRoot + "." + instanceID}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := nxclient.ConnectNet(ctx, wsURL, nxclient.Config{Realm: "test_realm", Serialization: serialize.MSGPACK})
	if err != nil {
		t.Fatalf("fake agent: connect %s: %v", wsURL, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Register(a.Address+".ops", a.ops, nil); err != nil {
		t.Fatalf("fake agent: register: %v", err)
	}
	if err := c.Register(a.Address, a.management, nil); err != nil {
		t.Fatalf("fake agent: register: %v", err)
	}
	return a
}

// Calls returns the calls received so far.
func (a *FakeAgent) Calls() []Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Call(nil), a.calls...)
}

func (a *FakeAgent) record(procedure string, inv *wamp.Invocation) {
	a.calls = append(a.calls, Call{Procedure: procedure, Args: inv.Arguments, Kwargs: inv.ArgumentsKw})
}

func (a *FakeAgent) management(_ context.Context, inv *wamp.Invocation) nxclient.InvokeResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.record(a.Address, inv)
	q, _ := wamp.AsString(argOrNil(inv.Arguments, 0))
	if q != "get_api" {
		return nxclient.InvokeResult{Args: wamp.List{nil}}
	}
	sess := a.session
	if sess == nil {
		sess = map[string]any{"op_name": "record", "status": "no_history"}
	}
	api := map[string]any{
		"agent_class":       "InfluxDBAgent",
		"instance_hostname": "ocs-docker",
		"instance_pid":      7,
		"feeds": []any{[]any{"heartbeat", map[string]any{
			"agent_address": a.Address, "agg_params": map[string]any{}, "feed_name": "heartbeat",
			"address": a.Address + ".feeds.heartbeat", "record": false,
			"session_id": "1795294559.9135082", "agent_class": "InfluxDBAgent",
		}}},
		"processes": []any{[]any{"record", sess, map[string]any{
			"blocking": true, "docstring": "record()\n\n        **Process** - ...", "op_type": "process", "min_privs": 1,
		}}},
		"tasks": []any{},
		"access_control": map[string]any{"version": 1, "policy": "none", "update_timestamp": 1795294559.9136703,
			"update_count": 0, "step": 0},
	}
	return nxclient.InvokeResult{Args: wamp.List{api}}
}

func argOrNil(l wamp.List, i int) any {
	if i < len(l) {
		return l[i]
	}
	return nil
}

func (a *FakeAgent) reply(status int, msg string, sess map[string]any) nxclient.InvokeResult {
	if sess == nil {
		sess = map[string]any{}
	}
	return nxclient.InvokeResult{Args: wamp.List{wamp.List{status, msg, copySession(sess)}}}
}

// copySession copies s down to its lists' and maps' elements, so that the
// reply is not changed by later updates (UpdateSession included) while it
// is sent.
func copySession(s map[string]any) map[string]any {
	out := make(map[string]any, len(s))
	for k, v := range s {
		switch x := v.(type) {
		case []any:
			v = append([]any(nil), x...)
		case map[string]any:
			m := make(map[string]any, len(x))
			for mk, mv := range x {
				m[mk] = mv
			}
			v = m
		}
		out[k] = v
	}
	return out
}

// UpdateSession calls f with record's session, the map the fake encodes
// in its replies (session_id, status, degraded, data, ...), for states the
// fake does not reach by itself: degraded, with data keys such as
// degraded_since. f runs under the agent's lock; replies carry copies of
// the session, its lists and its data's keys, so f may change the session
// and its data in place. It reports false, without calling f, when record
// has never been started.
func (a *FakeAgent) UpdateSession(f func(session map[string]any)) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.session == nil {
		return false
	}
	f(a.session)
	return true
}

func (a *FakeAgent) message(t float64, text string) {
	a.session["messages"] = append(a.session["messages"].([]any), []any{t, text})
}

func (a *FakeAgent) ops(_ context.Context, inv *wamp.Invocation) nxclient.InvokeResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.record(a.Address+".ops", inv)
	action, _ := wamp.AsString(argOrNil(inv.Arguments, 0))
	op, _ := wamp.AsString(argOrNil(inv.Arguments, 1))
	if op != "record" {
		switch action {
		case "stop", "abort":
			return a.reply(-1, fmt.Sprintf("No operation called %q.", op), nil)
		case "wait":
			return a.reply(-1, fmt.Sprintf("Unknown operation %q.", op), nil)
		}
		return a.reply(-1, fmt.Sprintf("No task or process called %q", op), nil)
	}
	now := 1795294584.9863648 + float64(a.nextID)
	switch action {
	case "start":
		params, _ := wamp.AsDict(argOrNil(inv.Arguments, 2))
		for k, v := range params {
			if k != "test_mode" {
				return a.reply(-1, fmt.Sprintf("params included unexpected values: ['%s']", k), nil)
			}
			if _, ok := v.(bool); !ok {
				return a.reply(-1, fmt.Sprintf("Param 'test_mode'=%v is not of required type (<class 'bool'>)", v), nil)
			}
		}
		if a.session != nil && a.session["status"] != "done" {
			return a.reply(-1, `Operation "record" already in progress.`, a.session)
		}
		a.session = map[string]any{
			"session_id": a.nextID, "op_name": "record", "op_code": 2, "cred_level": 1,
			"status": "starting", "degraded": false, "success": nil, "start_time": now,
			"end_time": nil, "data": map[string]any{}, "messages": []any{},
		}
		a.nextID++
		a.message(now, `Status is now "starting".`)
		reply := a.reply(0, `Started process "record".`, a.session)
		a.session["status"] = "running"
		a.session["op_code"] = 3
		a.message(now+0.0004, `Status is now "running".`)
		a.session["data"] = map[string]any{"connected": true, "last_updated": now + 1}
		return reply
	case "status":
		if a.session == nil {
			return a.reply(0, "No session active.", nil)
		}
		return a.reply(0, "Session active.", a.session)
	case "stop":
		if a.session == nil {
			return a.reply(-1, "No session active.", nil)
		}
		if a.session["status"] == "done" {
			return a.reply(-1, "The operation is already done", nil)
		}
		reply := a.reply(0, `Requested stop on process record".`, a.session)
		a.message(now+1, `Status is now "stopping".`)
		a.message(now+2, "Aggregation has ended")
		a.message(now+3, `Status is now "done".`)
		a.session["status"], a.session["op_code"], a.session["success"], a.session["end_time"] = "done", 5, true, now+3
		return reply
	case "abort":
		return a.reply(-1, `Cannot "abort" "record" because it is a "{op_type}".`, nil)
	case "wait":
		if a.session == nil {
			return a.reply(0, "Idle.", nil)
		}
		if a.session["status"] != "done" {
			// The fake never finishes on its own: any wait on a running op
			// times out (a null timeout too, so tests do not hang).
			return a.reply(1, `Operation "record" still running; wait timed out.`, a.session)
		}
		return a.reply(0, `Operation "record" is currently not running (SUCCEEDED).`, a.session)
	}
	return a.reply(-1, fmt.Sprintf("No implementation for %q", op), nil)
}
