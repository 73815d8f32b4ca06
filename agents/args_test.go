package agents_test

import (
	"errors"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents"
)

// TestOpsArgumentConventions calls .ops the ways real clients do
// (ocs-protocol.md §2.3 table): every argument positional or by keyword,
// params as object, null, absent or [], timeout null or a number, with or
// without password; each reply is a 3-element [int, string, object]
// (checklist 13, 20).
func TestOpsArgumentConventions(t *testing.T) {
	f := newFixture(t, nil, nil)
	// set_flag and data never run here, so they answer "no session";
	// record is started first (with absent params) and stays running.
	r := f.ops(t, []any{"start", "record"}, map[string]any{"password": "pw"})
	if r.code != 0 || r.msg != `Started process "record".` {
		t.Fatalf("start with absent params: (%d, %q)", r.code, r.msg)
	}
	cases := []struct {
		name   string
		args   []any
		kwargs map[string]any
		code   int64
		msg    string
	}{
		{"OCSClient status", []any{"status", "set_flag", map[string]any{}}, nil, 0, "No session active."},
		{"OCSClient status with password", []any{"status", "set_flag", map[string]any{}}, map[string]any{"password": "secret"}, 0, "No session active."},
		{"ocs-web status, params []", []any{"status", "set_flag", []any{}}, nil, 0, "No session active."},
		{"OperationClient status", []any{"status", "set_flag"}, map[string]any{"params": nil, "timeout": nil}, 0, "No session active."},
		{"all keywords", nil, map[string]any{"action": "status", "op_name": "set_flag", "password": nil}, 0, "No session active."},
		{"five positional", []any{"status", "set_flag", nil, nil, "pw"}, nil, 0, "No session active."},
		{"OCSClient wait, timeout keyword", []any{"wait", "set_flag", map[string]any{}}, map[string]any{"timeout": 1.5}, 0, "Idle."},
		{"OCSClient wait, null timeout", []any{"wait", "set_flag", map[string]any{}}, map[string]any{"timeout": nil}, 0, "Idle."},
		{"ocs-web wait, no timeout", []any{"wait", "set_flag", map[string]any{"flag": false}}, nil, 0, "Idle."},
		{"positional timeout", []any{"wait", "set_flag", nil, 2}, nil, 0, "Idle."},
		{"ocs-web stop, params []", []any{"stop", "data", []any{}}, map[string]any{"password": "x"}, -1, "No session active."},
		{"OperationClient stop", []any{"stop", "data"}, map[string]any{"params": nil}, -1, "No session active."},
		{"OCSClient abort", []any{"abort", "set_flag", map[string]any{}}, nil, -1, "No session active."},
		{"start, params null", []any{"start", "record", nil}, nil, -1, `Operation "record" already in progress.`},
		{"start, params by keyword", []any{"start", "record"}, map[string]any{"params": map[string]any{}}, -1, `Operation "record" already in progress.`},
		{"status of the running op", []any{"status", "record", []any{}}, nil, 0, "Session active."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.ops(t, c.args, c.kwargs)
			if r.code != c.code || r.msg != c.msg {
				t.Errorf("(%d, %q), want (%d, %q)", r.code, r.msg, c.code, c.msg)
			}
		})
	}
	t.Run("ocs-web start params without nulls", func(t *testing.T) {
		r := f.ops(t, []any{"start", "delay_task", map[string]any{"delay": 0}}, nil)
		if r.code != 0 {
			t.Fatalf("(%d, %q)", r.code, r.msg)
		}
		w := f.ops(t, []any{"wait", "delay_task", map[string]any{}}, map[string]any{"timeout": 5})
		if w.code != 0 || w.msg != `Operation "delay_task" is currently not running (SUCCEEDED).` {
			t.Errorf("wait (%d, %q)", w.code, w.msg)
		}
	})
	t.Run("params [] for start of an op with declarations is OCS's CRASH", func(t *testing.T) {
		r := f.ops(t, []any{"start", "delay_task", []any{}}, nil)
		want := "CRASH: during param pre-processing: 'list' object has no attribute 'get'"
		if r.code != -1 || r.msg != want || len(r.sess) != 0 {
			t.Errorf("(%d, %q, %v), want (-1, %q, {})", r.code, r.msg, r.sess, want)
		}
	})
	t.Run("op without declarations gets the raw params", func(t *testing.T) {
		r := f.ops(t, []any{"start", "raw", map[string]any{"anything": "goes"}}, nil)
		if r.code != 0 {
			t.Fatalf("(%d, %q)", r.code, r.msg)
		}
		w := f.ops(t, []any{"wait", "raw"}, nil)
		p, _ := w.sess["data"].(map[string]any)["params"].(map[string]any)
		if p["anything"] != "goes" {
			t.Errorf("raw op data %v", w.sess["data"])
		}
	})
}

// TestOpsArgumentErrors checks the calls Python answers with a WAMP error
// (wamp.error.runtime_error and the TypeError text).
func TestOpsArgumentErrors(t *testing.T) {
	f := newFixture(t, nil, nil)
	cases := []struct {
		name   string
		args   []any
		kwargs map[string]any
		want   string
	}{
		{"no args", nil, nil, "_ops_handler() missing 2 required positional arguments: 'action' and 'op_name'"},
		{"no op_name", []any{"status"}, nil, "_ops_handler() missing 1 required positional argument: 'op_name'"},
		{"too many", []any{"status", "record", nil, nil, nil, 6}, nil, "_ops_handler() takes from 3 to 6 positional arguments but 7 were given"},
		{"unknown keyword", []any{"status", "record"}, map[string]any{"bogus": 1}, "_ops_handler() got an unexpected keyword argument 'bogus'"},
		{"twice", []any{"status", "record"}, map[string]any{"action": "status"}, "_ops_handler() got multiple values for argument 'action'"},
		{"non-numeric timeout while running", []any{"wait", "data"}, map[string]any{"timeout": "soon"}, "'<' not supported between instances of 'str' and 'int'"},
		{"unhashable op", []any{"status", []any{1}}, nil, "unhashable type: 'list'"},
	}
	r := f.ops(t, []any{"start", "data"}, nil)
	if r.code != 0 {
		t.Fatalf("start data: (%d, %q)", r.code, r.msg)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := call(f.c, f.addr+".ops", c.args, c.kwargs)
			var re client.RPCError
			if !errors.As(err, &re) {
				t.Fatalf("want a WAMP error, got %v", err)
			}
			if re.Err.Error != wamp.URI("wamp.error.runtime_error") {
				t.Errorf("error URI %q", re.Err.Error)
			}
			if len(re.Err.Arguments) != 1 || re.Err.Arguments[0] != c.want {
				t.Errorf("error args %v, want [%q]", re.Err.Arguments, c.want)
			}
		})
	}
}

// TestSerializers: the agent answers clients on every serializer the
// router offers (JSON, msgpack, CBOR) and itself joins with each.
func TestSerializers(t *testing.T) {
	for _, agentSer := range []string{"msgpack", "cbor", "json"} {
		t.Run("agent "+agentSer, func(t *testing.T) {
			f := newFixture(t, func(cfg *agents.Config) { cfg.Serialization = agentSer }, nil)
			for name, ser := range map[string]serialize.Serialization{"json": serialize.JSON, "msgpack": serialize.MSGPACK, "cbor": serialize.CBOR} {
				c := dialClient(t, f.tr, ser)
				r := ops(t, c, f.addr, []any{"start", "record", map[string]any{"test_mode": true}}, nil)
				if r.code != 0 && r.msg != `Operation "record" already in progress.` {
					t.Errorf("client %s: start (%d, %q)", name, r.code, r.msg)
				}
				w := ops(t, c, f.addr, []any{"wait", "record", map[string]any{}}, map[string]any{"timeout": 5.0})
				if w.code != 0 {
					t.Errorf("client %s: wait (%d, %q)", name, w.code, w.msg)
				}
				checkSessionShape(t, w.sess)
				if cls := mgmt(t, c, f.addr, "get_agent_class"); cls != "TestAgent" {
					t.Errorf("client %s: get_agent_class %v", name, cls)
				}
			}
		})
	}
}
