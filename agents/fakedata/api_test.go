package fakedata_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"

	"github.com/ocsflux/ocsflux/agents/fakedata"
)

// golden is get_api of the Python FakeDataAgent fake-data1 in --mode acq
// with 16 channels (reference-output.md §4).
func golden(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/get_api_fake-data1.json")
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]any
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// plain converts a decoded WAMP value to what encoding/json would decode
// (all numbers float64), to compare it with the golden file.
func plain(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// opTuples splits get_api's processes or tasks into names, sessions and
// op_infos.
func opTuples(t *testing.T, what string, v any) ([]string, []map[string]any, []map[string]any) {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("%s %#v is not a list", what, v)
	}
	var names []string
	var sessions, infos []map[string]any
	for _, e := range l {
		tu, ok := e.([]any)
		if !ok || len(tu) != 3 {
			t.Fatalf("%s entry %#v is not a 3-tuple", what, e)
		}
		name, _ := tu[0].(string)
		sess, _ := tu[1].(map[string]any)
		info, _ := tu[2].(map[string]any)
		names = append(names, name)
		sessions = append(sessions, sess)
		infos = append(infos, info)
	}
	return names, sessions, infos
}

// TestGetAPIMatchesPython: get_api has the Python agent's keys, feeds, op
// order and op_info, docstrings included, byte for byte (checklist 10, 11,
// 32); ops without a session show no_history.
func TestGetAPIMatchesPython(t *testing.T) {
	r := startRouter(t)
	ta := startAgent(t, r, agentSetup{})
	g := golden(t)
	api, ok := ta.mgmt(t, "get_api").(map[string]any)
	if !ok {
		t.Fatalf("get_api is not an object")
	}
	if got, want := mapKeys(api), mapKeys(g); !slices.Equal(got, want) {
		t.Errorf("get_api keys %v, want %v", got, want)
	}
	if api["agent_class"] != "FakeDataAgent" || api["instance_hostname"] != "testhost" {
		t.Errorf("agent_class %v, instance_hostname %v", api["agent_class"], api["instance_hostname"])
	}
	if pid, _ := asInt(api["instance_pid"]); pid != 4242 {
		t.Errorf("instance_pid %v", api["instance_pid"])
	}
	ac, _ := api["access_control"].(map[string]any)
	gac := g["access_control"].(map[string]any)
	if got, want := mapKeys(ac), mapKeys(gac); !slices.Equal(got, want) {
		t.Errorf("access_control keys %v, want %v", got, want)
	}
	for _, k := range []string{"policy", "step", "update_count", "version"} {
		if !reflect.DeepEqual(plain(t, ac[k]), gac[k]) {
			t.Errorf("access_control %s = %v, want %v", k, ac[k], gac[k])
		}
	}
	if _, ok := ac["update_timestamp"].(float64); !ok {
		t.Errorf("access_control update_timestamp %#v is not a float", ac["update_timestamp"])
	}

	// Feeds: [name, feed_info] for false_temperatures and heartbeat.
	feeds, _ := api["feeds"].([]any)
	gfeeds := g["feeds"].([]any)
	if len(feeds) != len(gfeeds) {
		t.Fatalf("feeds %v, want %d", feeds, len(gfeeds))
	}
	for i, f := range feeds {
		pair, _ := f.([]any)
		gpair := gfeeds[i].([]any)
		if len(pair) != 2 || pair[0] != gpair[0] {
			t.Errorf("feed %d = %v, want %v", i, f, gpair[0])
			continue
		}
		info, _ := pair[1].(map[string]any)
		if pair[0] == fakedata.FeedName {
			checkFeedInfo(t, ta, info, fakedata.FeedName, true, 60)
		} else {
			checkFeedInfo(t, ta, info, "heartbeat", false, -1)
		}
		if want := gpair[1].(map[string]any)["agg_params"]; !reflect.DeepEqual(plain(t, info["agg_params"]), want) {
			t.Errorf("feed %v agg_params %v, want %v", pair[0], info["agg_params"], want)
		}
	}

	for _, kind := range []string{"processes", "tasks"} {
		names, sessions, infos := opTuples(t, kind, api[kind])
		gnames, _, ginfos := opTuples(t, kind, g[kind])
		if !slices.Equal(names, gnames) {
			t.Errorf("%s %v, want %v", kind, names, gnames)
			continue
		}
		for i, name := range names {
			if !reflect.DeepEqual(plain(t, infos[i]), ginfos[i]) {
				t.Errorf("%s op_info:\n got %#v\nwant %#v", name, infos[i], ginfos[i])
			}
			if want := map[string]any{"op_name": name, "status": "no_history"}; !reflect.DeepEqual(sessions[i], want) {
				t.Errorf("%s session %v, want %v", name, sessions[i], want)
			}
		}
	}
	if got, _ := ta.mgmt(t, "get_agent_class").(string); got != "FakeDataAgent" {
		t.Errorf("get_agent_class %v", got)
	}
}

// TestModeAcq: --mode acq starts acq and count at the first join with
// params {}, as session_ids 0 and 1 (checklist 24); their sessions have
// the Python sessions' keys and data keys (reference-output.md §4) and the
// heartbeat reports both running.
func TestModeAcq(t *testing.T) {
	r := startRouter(t)
	var hb *eventLog
	opts := fakedata.Defaults()
	opts.Mode = "acq"
	opts.NumChannels = 16
	ta := startAgent(t, r, agentSetup{opts: opts, subscribe: func(c *client.Client) {
		hb = subscribe(t, c, testRoot+".fake-data1.feeds.heartbeat")
	}})
	for i, op := range []string{"acq", "count"} {
		s := ta.waitSession(t, op, "running", func(s map[string]any) bool { return s["status"] == "running" })
		if id, _ := asInt(s["session_id"]); id != int64(i) {
			t.Errorf("%s session_id %v, want %d", op, s["session_id"], i)
		}
	}
	ta.clock.advance(t, 2, time.Second) // a report and a count
	ta.waitSession(t, "acq", "first report", func(s map[string]any) bool { return len(s["data"].(map[string]any)) > 0 })
	ta.waitSession(t, "count", "first count", func(s map[string]any) bool {
		c, _ := asInt(s["data"].(map[string]any)["counter"])
		return c == 1
	})

	g := golden(t)
	api := ta.mgmt(t, "get_api").(map[string]any)
	names, sessions, _ := opTuples(t, "processes", api["processes"])
	_, gsessions, _ := opTuples(t, "processes", g["processes"])
	if !slices.Equal(names, []string{"acq", "count"}) {
		t.Fatalf("processes %v", names)
	}
	for i, name := range names {
		s, gs := sessions[i], gsessions[i]
		if got, want := mapKeys(s), mapKeys(gs); !slices.Equal(got, want) {
			t.Errorf("%s session keys %v, want %v", name, got, want)
		}
		for _, k := range []string{"op_name", "status", "degraded", "success", "end_time", "cred_level", "op_code"} {
			if !reflect.DeepEqual(plain(t, s[k]), gs[k]) {
				t.Errorf("%s session %s = %#v, want %#v", name, k, s[k], gs[k])
			}
		}
		if id, _ := asInt(s["session_id"]); id != int64(i) {
			t.Errorf("%s session_id %v, want %d", name, s["session_id"], i)
		}
		d, gd := s["data"].(map[string]any), gs["data"].(map[string]any)
		if got, want := mapKeys(d), mapKeys(gd); !slices.Equal(got, want) {
			t.Errorf("%s data keys %v, want %v", name, got, want)
		}
		msgs, _ := s["messages"].([]any)
		if len(msgs) != 2 || msgs[0].([]any)[1] != `Status is now "starting".` || msgs[1].([]any)[1] != `Status is now "running".` {
			t.Errorf("%s messages %v", name, msgs)
		}
	}
	acqData := sessions[0]["data"].(map[string]any)
	fields, _ := acqData["fields"].(map[string]any)
	if got, want := mapKeys(fields), mapKeys(gsessions[0]["data"].(map[string]any)["fields"].(map[string]any)); !slices.Equal(got, want) {
		t.Errorf("acq fields %v, want %v", got, want)
	}
	for ch, v := range fields {
		if f, ok := v.(float64); !ok {
			t.Errorf("acq field %s = %#v, want a float", ch, v)
		} else {
			checkRange(t, ch, 0, f, 1)
		}
	}
	// 9.5 Hz: int(9.5) = 9 samples in the first report, the last at 8/9.5.
	if ts, want := acqData["timestamp"], at(8/opts.SampleRate); ts != want {
		t.Errorf("acq timestamp %#v, want %v", ts, want)
	}
	countData := sessions[1]["data"].(map[string]any)
	if c, ok := countData["counter"].(int64); !ok || c != 1 || countData["last_update"] != at(1) {
		t.Errorf("count data %#v, want counter 1 (an integer), last_update %v", countData, at(1))
	}

	waitFor(t, 3*time.Second, "a heartbeat with both running", func() bool {
		evs := hb.snapshot()
		if len(evs) == 0 {
			return false
		}
		codes := heartbeat(t, ta, evs[len(evs)-1])
		a, _ := asInt(codes["acq"])
		c, _ := asInt(codes["count"])
		s, _ := asInt(codes["set_heartbeat"])
		d, _ := asInt(codes["delay_task"])
		return a == 3 && c == 3 && s == 1 && d == 1
	})
}
