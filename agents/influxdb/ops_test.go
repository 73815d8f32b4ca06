package influxdb_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	ocsclient "github.com/ocsflux/ocsflux/agents/client"
	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/internal/influxtest"
)

// sessionKeys are the keys of an encoded OpSession (ocs-protocol.md §3.1).
var sessionKeys = []string{"cred_level", "data", "degraded", "end_time", "messages", "op_code", "op_name",
	"session_id", "start_time", "status", "success"}

// expect checks a reply's status and message.
func expect(t *testing.T, step string, rep ocsclient.Reply, status ocsclient.Status, msg string) ocsclient.Reply {
	t.Helper()
	if rep.Status != status || rep.Message != msg {
		t.Errorf("%s: reply (%v, %q), want (%v, %q)", step, rep.Status, rep.Message, status, msg)
	}
	return rep
}

// expectEmpty checks a reply without a session.
func expectEmpty(t *testing.T, step string, rep ocsclient.Reply, status ocsclient.Status, msg string) {
	t.Helper()
	expect(t, step, rep, status, msg)
	if len(rep.Session) != 0 {
		t.Errorf("%s: session %v, want {}", step, rep.Session)
	}
}

// checkSession checks an encoded session's keys, status, op_code,
// success and message texts.
func checkSession(t *testing.T, step string, s map[string]any, status string, opCode int64, success any, msgs []string) {
	t.Helper()
	if got := slices.Sorted(maps.Keys(s)); !slices.Equal(got, sessionKeys) {
		t.Errorf("%s: session keys %v, want %v", step, got, sessionKeys)
	}
	code, _ := asInt(s["op_code"])
	if s["op_name"] != influxdb.OpRecord || s["status"] != status || code != opCode || s["success"] != success ||
		s["degraded"] != false {
		t.Errorf("%s: session op_name %v status %v op_code %v success %v degraded %v, want record %s %d %v false",
			step, s["op_name"], s["status"], s["op_code"], s["success"], s["degraded"], status, opCode, success)
	}
	if cl, _ := asInt(s["cred_level"]); cl != 1 {
		t.Errorf("%s: cred_level %v", step, s["cred_level"])
	}
	if got := messageTexts(s); !slices.Equal(got, msgs) {
		t.Errorf("%s: messages %q, want %q", step, got, msgs)
	}
	_, isFloat := s["end_time"].(float64)
	if done := status == "done"; done != isFloat || !done && s["end_time"] != nil {
		t.Errorf("%s: end_time %#v with status %s", step, s["end_time"], status)
	}
}

func messageTexts(s map[string]any) []string {
	var out []string
	l, _ := s["messages"].([]any)
	for _, m := range l {
		pair, _ := m.([]any)
		if len(pair) == 2 {
			text, _ := pair[1].(string)
			out = append(out, text)
		}
	}
	return out
}

const (
	stStarting = `Status is now "starting".`
	stRunning  = `Status is now "running".`
	stStopping = `Status is now "stopping".`
	stDone     = `Status is now "done".`
)

// TestRecordReplies: every reply a client sees when controlling record is
// the Python agent's (reference-output.md §1; checklist 13–19, 22, 28,
// 29, 43, 46, 59), and a test_mode run stops intake (Quirk (fix) of
// §7.1).
func TestRecordReplies(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	r := startRouter(t)
	src := startSource(t, r)
	const db = "replies"
	ia := startInflux(t, r, testOptions(srv.URL, db, "record"), "", nil)
	waitSubscribed(t, ia, src)
	ia.waitRecording(t)

	rep := expect(t, "status while recording", ia.ops(t, "status", nil, nil), ocsclient.OK, "Session active.")
	checkSession(t, "status while recording", rep.Session, "running", 3, nil, []string{stStarting, stRunning})
	d, _ := rep.Session["data"].(map[string]any)
	if _, ok := d["last_updated"].(float64); !ok || d["connected"] != true {
		t.Errorf("data %v: want connected true and a float last_updated", d)
	}
	id0, _ := asInt(rep.Session["session_id"])
	if id0 != 0 {
		t.Errorf("start-up session_id %d, want 0", id0)
	}

	rep = expect(t, "stop", ia.ops(t, "stop", nil, nil), ocsclient.OK, `Requested stop on process record".`)
	checkSession(t, "stop", rep.Session, "running", 3, nil, []string{stStarting, stRunning})

	rep = expect(t, "wait for stop", ia.ops(t, "wait", nil, ptr(10.0)), ocsclient.OK,
		`Operation "record" is currently not running (SUCCEEDED).`)
	done := []string{stStarting, stRunning, stStopping, influxdb.MsgEnded, stDone}
	checkSession(t, "wait for stop", rep.Session, "done", 5, true, done)
	if d, _ := rep.Session["data"].(map[string]any); d["connected"] != true {
		t.Errorf("data after stop %v", d)
	}
	rep = expect(t, "status after stop", ia.ops(t, "status", nil, nil), ocsclient.OK, "Session active.")
	checkSession(t, "status after stop", rep.Session, "done", 5, true, done)

	expectEmpty(t, "stop again", ia.ops(t, "stop", nil, nil), ocsclient.ERROR, "The operation is already done")
	expectEmpty(t, "start test_mode='yes'", ia.ops(t, "start", map[string]any{"test_mode": "yes"}, nil),
		ocsclient.ERROR, "Param 'test_mode'=yes is not of required type (<class 'bool'>)")
	expectEmpty(t, "start bogus=1", ia.ops(t, "start", map[string]any{"bogus": 1}, nil),
		ocsclient.ERROR, "params included unexpected values: ['bogus']")
	expectEmpty(t, "wait while stopped", ia.ops(t, "wait", nil, ptr(1.0)), ocsclient.OK, "Idle.")

	rep = expect(t, "start", ia.ops(t, "start", nil, nil), ocsclient.OK, `Started process "record".`)
	checkSession(t, "start", rep.Session, "starting", 2, nil, []string{stStarting})
	if id, _ := asInt(rep.Session["session_id"]); id != id0+1 {
		t.Errorf("session_id %d, want %d", id, id0+1)
	}
	if d, _ := rep.Session["data"].(map[string]any); len(d) != 0 {
		t.Errorf("data at start %v, want {}", d)
	}
	// Right after the start the data is still {} (the first update comes
	// one second after InfluxDB answered).
	rep = expect(t, "status right after start", ia.ops(t, "status", nil, nil), ocsclient.OK, "Session active.")
	if d, _ := rep.Session["data"].(map[string]any); len(d) != 0 {
		t.Errorf("data right after start %v, want {}", d)
	}
	ia.waitRecording(t)

	rep = expect(t, "start while running", ia.ops(t, "start", nil, nil), ocsclient.ERROR,
		`Operation "record" already in progress.`)
	checkSession(t, "start while running", rep.Session, "running", 3, nil, []string{stStarting, stRunning})
	for _, timeout := range []float64{0, 0.3} {
		start := time.Now()
		rep = expect(t, fmt.Sprintf("wait timeout=%v", timeout), ia.ops(t, "wait", nil, ptr(timeout)), ocsclient.TIMEOUT,
			`Operation "record" still running; wait timed out.`)
		checkSession(t, "wait with timeout", rep.Session, "running", 3, nil, []string{stStarting, stRunning})
		if el := time.Since(start); el < time.Duration(timeout*float64(time.Second)) {
			t.Errorf("wait(timeout=%v) returned after %v", timeout, el)
		}
	}
	expectEmpty(t, "abort", ia.ops(t, "abort", nil, nil), ocsclient.ERROR,
		`Cannot "abort" "record" because it is a "{op_type}".`)
	expect(t, "stop", ia.ops(t, "stop", nil, nil), ocsclient.OK, `Requested stop on process record".`)
	expect(t, "wait", ia.ops(t, "wait", nil, ptr(10.0)), ocsclient.OK,
		`Operation "record" is currently not running (SUCCEEDED).`)

	// test_mode: one iteration, then done, success true.
	expect(t, "start test_mode", ia.ops(t, "start", map[string]any{"test_mode": true}, nil), ocsclient.OK,
		`Started process "record".`)
	rep = expect(t, "wait test_mode", ia.ops(t, "wait", nil, ptr(10.0)), ocsclient.OK,
		`Operation "record" is currently not running (SUCCEEDED).`)
	checkSession(t, "wait test_mode", rep.Session, "done", 5, true, []string{stStarting, stRunning, influxdb.MsgEnded, stDone})
	if d, _ := rep.Session["data"].(map[string]any); d["connected"] != true {
		t.Errorf("test_mode data %v", d)
	}

	// After test_mode the agent no longer takes data in (Python keeps
	// queueing and writes the backlog at the next start).
	ignored := ia.Ignored()
	src.publish(t, samples(50, 50)...)
	waitFor(t, 5*time.Second, "event ignored after test_mode", func() bool { return ia.Ignored() > ignored })
	expect(t, "start", ia.ops(t, "start", nil, nil), ocsclient.OK, `Started process "record".`)
	ia.waitRecording(t)
	src.publish(t, samples(60, 60)...)
	waitCount(t, srv, db, srcAddr, "temps", "seq", 1)
	if v := srv.Query(t, db, fmt.Sprintf(`SELECT "seq" FROM %q`, srcAddr)); len(v) != 1 || fmt.Sprint(v[0][1]) != "60" {
		t.Errorf("written seq %v, want only 60", v)
	}
}

// golden returns a get_api captured from the Python agent
// (reference-output.md §2, §3).
func golden(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]any
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// plain converts a decoded WAMP value to what encoding/json decodes (all
// numbers float64), to compare it with a golden file.
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

// TestGetAPI: get_api of an agent started with --initial-state record
// (record running) and with idle (no_history) has the Python agent's
// shape, op_info byte for byte (docstring included), and its feeds are the
// Python agent's heartbeat plus ocsflux_stats (checklist 10–12, 32, 37);
// the idle agent answers status, wait and stop as Python's.
func TestGetAPI(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	r := startRouter(t)
	rec := startInflux(t, r, testOptions(srv.URL, "api", "record"), "", nil)
	idle := startInflux(t, r, testOptions(srv.URL, "api", "idle"), "influxagent-idle", nil)
	rec.waitRecording(t)

	for _, tc := range []struct {
		name   string
		ia     *influxAgent
		golden string
	}{
		{"record", rec, "get_api_influxagent.json"},
		{"idle", idle, "get_api_influxagent-idle.json"},
	} {
		g := golden(t, tc.golden)
		api, err := tc.ia.w.GetAPI(t.Context())
		if err != nil {
			t.Fatalf("%s: get_api: %v", tc.name, err)
		}
		if got, want := slices.Sorted(maps.Keys(api)), slices.Sorted(maps.Keys(g)); !slices.Equal(got, want) {
			t.Errorf("%s: get_api keys %v, want %v", tc.name, got, want)
		}
		if api["agent_class"] != "InfluxDBAgent" || api["instance_hostname"] != "testhost" {
			t.Errorf("%s: agent_class %v instance_hostname %v", tc.name, api["agent_class"], api["instance_hostname"])
		}
		ac, _ := api["access_control"].(map[string]any)
		gac := g["access_control"].(map[string]any)
		delete(gac, "update_timestamp")
		if _, ok := ac["update_timestamp"].(float64); !ok {
			t.Errorf("%s: access_control update_timestamp %#v", tc.name, ac["update_timestamp"])
		}
		delete(ac, "update_timestamp")
		if !reflect.DeepEqual(plain(t, ac), gac) {
			t.Errorf("%s: access_control %v, want %v", tc.name, ac, gac)
		}
		if tasks, _ := api["tasks"].([]any); tasks == nil || len(tasks) != 0 {
			t.Errorf("%s: tasks %#v, want []", tc.name, api["tasks"])
		}

		procs, _ := api["processes"].([]any)
		gprocs := g["processes"].([]any)
		if len(procs) != 1 {
			t.Fatalf("%s: processes %v", tc.name, procs)
		}
		p, _ := procs[0].([]any)
		gp := gprocs[0].([]any)
		if len(p) != 3 || p[0] != "record" {
			t.Fatalf("%s: process %v", tc.name, p)
		}
		if !reflect.DeepEqual(plain(t, p[2]), gp[2]) {
			t.Errorf("%s: op_info\n got %#v\nwant %#v", tc.name, p[2], gp[2])
		}
		sess, _ := p[1].(map[string]any)
		gsess := gp[1].(map[string]any)
		if got, want := slices.Sorted(maps.Keys(sess)), slices.Sorted(maps.Keys(gsess)); !slices.Equal(got, want) {
			t.Errorf("%s: session keys %v, want %v", tc.name, got, want)
		}
		if sess["status"] != gsess["status"] {
			t.Errorf("%s: session status %v, want %v", tc.name, sess["status"], gsess["status"])
		}

		// Feeds: ocsflux_stats (registered first), then the Python agent's
		// heartbeat.
		feeds, _ := api["feeds"].([]any)
		if len(feeds) != 2 {
			t.Fatalf("%s: feeds %v", tc.name, feeds)
		}
		addr := tc.ia.Address()
		gfeed := g["feeds"].([]any)[0].([]any)[1].(map[string]any)
		for i, want := range []struct {
			name   string
			record bool
			agg    map[string]any
		}{{influxdb.StatsFeed, true, map[string]any{"exclude_aggregator": true}}, {"heartbeat", false, map[string]any{}}} {
			pair, _ := feeds[i].([]any)
			info, _ := pair[1].(map[string]any)
			if len(pair) != 2 || pair[0] != want.name {
				t.Errorf("%s: feed %d %v, want %s", tc.name, i, pair, want.name)
				continue
			}
			if got, wantKeys := slices.Sorted(maps.Keys(info)), slices.Sorted(maps.Keys(gfeed)); !slices.Equal(got, wantKeys) {
				t.Errorf("%s: feed_info keys %v, want %v", tc.name, got, wantKeys)
			}
			sid, _ := info["session_id"].(string)
			if info["agent_address"] != addr || info["address"] != addr+".feeds."+want.name ||
				info["feed_name"] != want.name || info["record"] != want.record ||
				info["agent_class"] != "InfluxDBAgent" || sid != tc.ia.Runtime().SessionID() ||
				!reflect.DeepEqual(plain(t, info["agg_params"]), plain(t, want.agg)) {
				t.Errorf("%s: feed_info %v", tc.name, info)
			}
		}
	}

	// The idle agent never started record.
	expectEmpty(t, "idle status", idle.ops(t, "status", nil, nil), ocsclient.OK, "No session active.")
	expectEmpty(t, "idle wait", idle.ops(t, "wait", nil, ptr(1.0)), ocsclient.OK, "Idle.")
	expectEmpty(t, "idle stop", idle.ops(t, "stop", nil, nil), ocsclient.ERROR, "No session active.")
}
