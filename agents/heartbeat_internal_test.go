package agents

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/transport/serialize"
)

// TestHeartbeatKeyOrder: the heartbeat dict leaves the agent with its keys
// in op registration order, not sorted, on every serializer (checklist 30).
// (A router that decodes and re-encodes events into unordered maps, as
// nexus does, loses this order; crossbar keeps it.)
func TestHeartbeatKeyOrder(t *testing.T) {
	m := newOpsManager(slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	for _, name := range []string{"zeta", "alpha", "mid"} {
		if err := m.register(kindTask, OpSpec{Name: name, Run: func(*Session, Params) (bool, string, error) { return true, "", nil }}); err != nil {
			t.Fatal(err)
		}
	}
	msg := orderedMap(m.opCodes())
	for name, ser := range map[string]serialize.Serializer{
		"json": &serialize.JSONSerializer{}, "msgpack": &serialize.MessagePackSerializer{}, "cbor": &serialize.CBORSerializer{},
	} {
		b, err := ser.SerializeDataItem([]any{[]any{msg, map[string]any{}}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		z, a, mi := bytes.Index(b, []byte("zeta")), bytes.Index(b, []byte("alpha")), bytes.Index(b, []byte("mid"))
		if z < 0 || !(z < a && a < mi) {
			t.Errorf("%s: keys not in registration order: %q", name, b)
		}
		var back any
		if err := ser.DeserializeDataItem(b, &back); err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		d := back.([]any)[0].([]any)[0].(map[string]any)
		if len(d) != 3 {
			t.Errorf("%s: decoded %v", name, d)
		}
		for k, v := range d {
			if n, _ := v.(int64); n != 1 {
				if u, _ := v.(uint64); u != 1 {
					t.Errorf("%s: %s = %#v, want 1", name, k, v)
				}
			}
		}
	}
	empty := newOpsManager(slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if got := string(mustJSON(t, orderedMap(empty.opCodes()))); got != "{}" {
		t.Errorf("heartbeat of an agent without ops encodes as %s, want {}", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := (&serialize.JSONSerializer{}).SerializeDataItem(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
