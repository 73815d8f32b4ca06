package agents_test

import (
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/agents"
)

func keysOf(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// TestGetAPI checks get_api's keys and types, access_control, the op
// tuples (sorted by name, no_history, op_info keys) and the heartbeat feed
// (checklist 10, 11, 32).
func TestGetAPI(t *testing.T) {
	before := nowFloat()
	f := newFixture(t, nil, nil)
	r := f.ops(t, []any{"start", "data"}, nil)
	if r.code != 0 {
		t.Fatalf("start data: %v", r.msg)
	}
	api, ok := mgmt(t, f.c, f.addr, "get_api").(map[string]any)
	if !ok {
		t.Fatalf("get_api is not an object")
	}
	if got := keysOf(api); got != "access_control,agent_class,feeds,instance_hostname,instance_pid,processes,tasks" {
		t.Fatalf("get_api keys %s", got)
	}
	if api["agent_class"] != "TestAgent" || api["instance_hostname"] != "testhost" {
		t.Errorf("agent_class %v, instance_hostname %v", api["agent_class"], api["instance_hostname"])
	}
	if pid, ok := asInt(api["instance_pid"]); !ok || pid != 4242 {
		t.Errorf("instance_pid %#v", api["instance_pid"])
	}
	acl := api["access_control"].(map[string]any)
	if keysOf(acl) != "policy,step,update_count,update_timestamp,version" {
		t.Errorf("access_control keys %s", keysOf(acl))
	}
	if v, _ := asInt(acl["version"]); v != 1 || acl["policy"] != "none" {
		t.Errorf("access_control %v", acl)
	}
	if c, ok := asInt(acl["update_count"]); !ok || c != 0 {
		t.Errorf("update_count %#v", acl["update_count"])
	}
	if s, ok := asInt(acl["step"]); !ok || s != 0 {
		t.Errorf("step %#v", acl["step"])
	}
	if ts, ok := asFloat(acl["update_timestamp"]); !ok || ts < before || ts > nowFloat() {
		t.Errorf("update_timestamp %#v", acl["update_timestamp"])
	}

	wantProcs := []string{"data", "raw", "record"}
	wantTasks := []string{"crash", "delay_task", "set_flag"}
	for kind, want := range map[string][]string{"processes": wantProcs, "tasks": wantTasks} {
		list := api[kind].([]any)
		var names []string
		for _, e := range list {
			tuple := e.([]any)
			if len(tuple) != 3 {
				t.Fatalf("%s tuple %v is not a 3-list", kind, tuple)
			}
			name := tuple[0].(string)
			names = append(names, name)
			s := tuple[1].(map[string]any)
			if name == "data" {
				sess("running", 3, 0)(t, s)
			} else if len(s) != 2 || s["op_name"] != name || s["status"] != "no_history" {
				t.Errorf("%s %s session %v, want no_history", kind, name, s)
			}
			info := tuple[2].(map[string]any)
			wantKeys := "blocking,docstring,min_privs,op_type"
			opType := "process"
			if kind == "tasks" {
				wantKeys = "abortable,blocking,docstring,min_privs,op_type"
				opType = "task"
			}
			if keysOf(info) != wantKeys {
				t.Errorf("%s op_info keys %s, want %s", name, keysOf(info), wantKeys)
			}
			if mp, _ := asInt(info["min_privs"]); mp != 1 || info["op_type"] != opType {
				t.Errorf("%s op_info %v", name, info)
			}
			switch name {
			case "record":
				if info["docstring"] != recordDoc || info["blocking"] != true {
					t.Errorf("record op_info %v", info)
				}
			case "delay_task":
				if info["abortable"] != true || info["docstring"] != nil || info["blocking"] != false {
					t.Errorf("delay_task op_info %v", info)
				}
			case "set_flag":
				if info["abortable"] != false {
					t.Errorf("set_flag op_info %v", info)
				}
			}
		}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("%s %v, want sorted %v", kind, names, want)
		}
	}

	feedsList := api["feeds"].([]any)
	if len(feedsList) != 1 {
		t.Fatalf("feeds %v, want only heartbeat", feedsList)
	}
	pair := feedsList[0].([]any)
	if pair[0] != "heartbeat" {
		t.Fatalf("feed name %v", pair[0])
	}
	checkFeedInfo(t, pair[1].(map[string]any), f.addr, "heartbeat", false, map[string]any{}, f.ra.SessionID())
}

// checkFeedInfo asserts a feed_info: exactly the 7 keys of §6.2 (checklist
// 31).
func checkFeedInfo(t *testing.T, info map[string]any, addr, name string, record bool, agg map[string]any, sessionID string) {
	t.Helper()
	if keysOf(info) != "address,agent_address,agent_class,agg_params,feed_name,record,session_id" {
		t.Errorf("feed_info keys %s", keysOf(info))
	}
	if info["agent_address"] != addr || info["feed_name"] != name || info["address"] != addr+".feeds."+name ||
		info["record"] != record || info["agent_class"] != "TestAgent" || info["session_id"] != sessionID {
		t.Errorf("feed_info %v", info)
	}
	got, _ := info["agg_params"].(map[string]any)
	if got == nil || keysOf(got) != keysOf(agg) {
		t.Errorf("agg_params %#v, want %#v", info["agg_params"], agg)
	}
}

// TestManagementQueries checks get_tasks, get_processes, get_feeds,
// get_agent_class and an unknown query (null), and the call conventions
// (checklist 12).
func TestManagementQueries(t *testing.T) {
	f := newFixture(t, nil, func(a *agents.Agent) {
		if _, err := a.RegisterFeed(agents.FeedSpec{Name: "temps", Record: true, AggParams: map[string]any{"frame_length": 60}}); err != nil {
			t.Fatal(err)
		}
	})
	api := mgmt(t, f.c, f.addr, "get_api").(map[string]any)
	for q, key := range map[string]string{"get_tasks": "tasks", "get_processes": "processes", "get_feeds": "feeds"} {
		got := mgmt(t, f.c, f.addr, q).([]any)
		if len(got) != len(api[key].([]any)) {
			t.Errorf("%s: %d entries, get_api.%s has %d", q, len(got), key, len(api[key].([]any)))
		}
		for i := range got {
			if got[i].([]any)[0] != api[key].([]any)[i].([]any)[0] {
				t.Errorf("%s[%d] = %v, want %v", q, i, got[i], api[key].([]any)[i])
			}
		}
	}
	if cls := mgmt(t, f.c, f.addr, "get_agent_class"); cls != "TestAgent" {
		t.Errorf("get_agent_class %v", cls)
	}
	if v := mgmt(t, f.c, f.addr, "get_nothing"); v != nil {
		t.Errorf("unknown query returned %v, want null", v)
	}
	res, err := call(f.c, f.addr, nil, map[string]any{"q": "get_agent_class", "extra": 1})
	if err != nil || len(res.Arguments) != 1 || res.Arguments[0] != "TestAgent" {
		t.Errorf("keyword q with extra keyword: %v %v", res, err)
	}
	if _, err := call(f.c, f.addr, nil, nil); err == nil || !strings.Contains(err.Error(), "_management_handler() missing 1 required positional argument: 'q'") {
		t.Errorf("no q: %v", err)
	}
	// Feeds: registration order, the agent's own feed before heartbeat.
	fl := mgmt(t, f.c, f.addr, "get_feeds").([]any)
	if len(fl) != 2 || fl[0].([]any)[0] != "temps" || fl[1].([]any)[0] != "heartbeat" {
		t.Fatalf("get_feeds %v", fl)
	}
	checkFeedInfo(t, fl[0].([]any)[1].(map[string]any), f.addr, "temps", true, map[string]any{"frame_length": 60}, f.ra.SessionID())
	if fp, _ := asInt(fl[0].([]any)[1].(map[string]any)["agg_params"].(map[string]any)["frame_length"]); fp != 60 {
		t.Errorf("frame_length %v", fl[0])
	}
}

// TestFeedSessionID: the feed session_id is the agent's start time as
// Python's str(float) (checklist 31).
func TestFeedSessionID(t *testing.T) {
	before := float64(time.Now().UnixNano()) / 1e9
	a, err := agents.New(agents.Config{AddressRoot: "observatory", InstanceID: "x", URL: "ws://127.0.0.1:1/ws", Realm: "r"})
	if err != nil {
		t.Fatal(err)
	}
	after := float64(time.Now().UnixNano()) / 1e9
	sid := a.SessionID()
	if !strings.Contains(sid, ".") || strings.ContainsAny(sid, "eE") {
		t.Errorf("session_id %q is not a positional float", sid)
	}
	v, err := strconv.ParseFloat(sid, 64)
	if err != nil || v < before || v > after {
		t.Errorf("session_id %q not between %v and %v", sid, before, after)
	}
	if strconv.FormatFloat(v, 'f', -1, 64) != strings.TrimSuffix(sid, ".0") {
		t.Errorf("session_id %q is not the shortest repr", sid)
	}
}
