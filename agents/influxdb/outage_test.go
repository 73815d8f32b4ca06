package influxdb_test

import (
	"slices"
	"testing"
	"time"

	ocsclient "github.com/ocsflux/ocsflux/agents/client"
	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/internal/influxtest"
)

// TestStartWhileInfluxDown: while InfluxDB does not answer, record runs
// with data {} and degraded false (as Python); a stop ends it with success
// false and "Failed to connect to InfluxDB", and what arrived meanwhile is
// not written. Started again, it connects when InfluxDB comes up and
// writes the data that arrived while it waited (checklist 36, 42).
//
// Not parallel (nor TestDegraded): while influxd is down its port is free,
// and another test's influxd must not take it.
func TestStartWhileInfluxDown(t *testing.T) {
	srv := influxtest.Start(t)
	srv.Kill()
	r := startRouter(t)
	src := startSource(t, r)
	const db = "down"
	ia := startInflux(t, r, testOptions(srv.URL, db, "record"), "", nil)
	waitSubscribed(t, ia, src)

	waitFor(t, 10*time.Second, "two failed connection attempts", func() bool {
		return len(ia.logs.lines("cannot reach InfluxDB")) > 0 && len(ia.logs.lines("connection refused")) >= 1
	})
	received := ia.Received()
	src.publish(t, samples(90, 90)...)
	waitFor(t, 5*time.Second, "event received", func() bool { return ia.Received() > received })
	rep := expect(t, "status while connecting", ia.ops(t, "status", nil, nil), ocsclient.OK, "Session active.")
	checkSession(t, "status while connecting", rep.Session, "running", 3, nil, []string{stStarting, stRunning})
	if d, _ := rep.Session["data"].(map[string]any); len(d) != 0 {
		t.Errorf("data while connecting %v, want {}", d)
	}

	expect(t, "stop", ia.ops(t, "stop", nil, nil), ocsclient.OK, `Requested stop on process record".`)
	rep = expect(t, "wait", ia.ops(t, "wait", nil, ptr(10.0)), ocsclient.OK,
		`Operation "record" is currently not running (FAILED).`)
	checkSession(t, "wait", rep.Session, "done", 6, false,
		[]string{stStarting, stRunning, stStopping, influxdb.MsgNotConnected, stDone})
	if len(ia.logs.lines("stopped before InfluxDB answered", "points=1")) != 1 {
		t.Errorf("no log of the point not written; log:\n%s", ia.logs)
	}

	// Start again, still down: data that arrives is kept until InfluxDB
	// answers.
	expect(t, "start", ia.ops(t, "start", nil, nil), ocsclient.OK, `Started process "record".`)
	ia.waitSession(t, "running", 5*time.Second, func(s map[string]any) bool { return s["status"] == "running" })
	received = ia.Received()
	want := samples(1, 3)
	src.publish(t, want...)
	waitFor(t, 5*time.Second, "events received", func() bool { return ia.Received() >= received+3 })
	if err := srv.Resume(t.Context()); err != nil {
		t.Fatalf("resume influxd: %v", err)
	}
	ia.waitRecording(t)
	waitCount(t, srv, db, srcAddr, "temps", "seq", 3)
	checkValues(t, srv, db, want)
}

// TestDegraded: when InfluxDB goes away while recording, record becomes
// degraded (op_code 8 in status and heartbeat, connected false, a reason)
// after a failed write, and recovers when InfluxDB is back, writing what
// arrived meanwhile; a stop while degraded ends the session (Python
// ignores it) after at most the shutdown timeout (checklist 23, 44, 45,
// 48).
func TestDegraded(t *testing.T) {
	srv := influxtest.Start(t)
	r := startRouter(t)
	src := startSource(t, r)
	const db = "degraded"
	opts := testOptions(srv.URL, db, "record")
	opts.ShutdownTimeout = 500 * time.Millisecond
	ia := startInflux(t, r, opts, "", nil)
	hb := subscribeHeartbeat(t, r, influxAddr)
	waitSubscribed(t, ia, src)
	ia.waitRecording(t)
	waitHeartbeat(t, hb, 3)

	isDegraded := func(s map[string]any) bool {
		d, _ := s["data"].(map[string]any)
		code, _ := asInt(s["op_code"])
		return s["degraded"] == true && code == 8 && d["connected"] == false
	}
	srv.Kill()
	sess := ia.waitSession(t, "degraded", 10*time.Second, isDegraded)
	d := sess["data"].(map[string]any)
	if reason, _ := d["degraded_reason"].(string); reason == "" {
		t.Errorf("degraded_reason %#v", d["degraded_reason"])
	}
	if n, _ := asInt(d["write_errors"]); n < 1 {
		t.Errorf("write_errors %v", d["write_errors"])
	}
	waitHeartbeat(t, hb, 8)
	if len(ia.logs.lines("record degraded")) == 0 {
		t.Errorf("degraded not logged; log:\n%s", ia.logs)
	}

	want := samples(1, 3)
	src.publish(t, want...)
	if err := srv.Resume(t.Context()); err != nil {
		t.Fatalf("resume influxd: %v", err)
	}
	ia.waitSession(t, "no longer degraded", 10*time.Second, func(s map[string]any) bool {
		d, _ := s["data"].(map[string]any)
		code, _ := asInt(s["op_code"])
		return s["degraded"] == false && code == 3 && d["connected"] == true && d["degraded_reason"] == ""
	})
	waitHeartbeat(t, hb, 3)
	waitCount(t, srv, db, srcAddr, "temps", "seq", 3)
	checkValues(t, srv, db, want)

	// A stop while degraded stops record.
	srv.Kill()
	ia.waitSession(t, "degraded again", 10*time.Second, isDegraded)
	expect(t, "stop while degraded", ia.ops(t, "stop", nil, nil), ocsclient.OK, `Requested stop on process record".`)
	start := time.Now()
	rep := expect(t, "wait", ia.ops(t, "wait", nil, ptr(10.0)), ocsclient.OK,
		`Operation "record" is currently not running (SUCCEEDED).`)
	if el := time.Since(start); el > opts.ShutdownTimeout+3*time.Second {
		t.Errorf("stop took %v with shutdown timeout %v", el, opts.ShutdownTimeout)
	}
	if got, want := messageTexts(rep.Session), []string{stStarting, stRunning, stStopping, influxdb.MsgEnded, stDone}; !slices.Equal(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
	if code, _ := asInt(rep.Session["op_code"]); rep.Session["status"] != "done" || code != 5 || rep.Session["success"] != true {
		t.Errorf("session after stop %v", rep.Session)
	}
	if len(ia.logs.lines("data not written when record stopped")) != 1 {
		t.Errorf("unflushed data not logged; log:\n%s", ia.logs)
	}
}
