package influxdb_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/influxdata/influxdb1-client/models"

	ocsclient "github.com/ocsflux/ocsflux/agents/client"
	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/internal/influxtest"
)

// TestEndToEnd: a Go agent publishes a recorded feed through the router;
// the InfluxDBAgent writes it to a real influxd with the Python agent's
// schema (measurement = agent address, tag feed, field types kept, 2.0 a
// float) and exact values, escaping what the Python agent would break on.
// Data published while record is stopped is never written; writing resumes
// at the next start; excluded and unrecorded feeds are never written; the
// stats feed lands (checklist 2, 34–36, 38, 39, 46, 48).
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	r := startRouter(t)
	src := startSource(t, r)
	const db = "e2e"
	ia := startInflux(t, r, testOptions(srv.URL, db, "record"), "", nil)
	waitSubscribed(t, ia, src)
	ia.waitRecording(t)

	// Recording: written.
	first := samples(1, 3)
	src.publish(t, first...)
	if err := src.excluded.PublishSample("b", 1795294463.5, map[string]any{"x": 1.5}); err != nil {
		t.Fatal(err)
	}
	if err := src.other.Publish(map[string]any{"b": map[string]any{"block_name": "b",
		"timestamps": []any{1795294463.5}, "data": map[string]any{"x": []any{1.5}}}}); err != nil {
		t.Fatal(err)
	}
	waitCount(t, srv, db, srcAddr, "temps", "seq", 3)
	checkValues(t, srv, db, first)

	// Stopped as a client does (HTTP bridge): data published meanwhile is
	// discarded by the agent and never written.
	rep, err := ia.h.Ops(t.Context(), ocsclient.ActionStop, influxdb.OpRecord, nil, nil)
	if err != nil || rep.Status != ocsclient.OK {
		t.Fatalf("stop: %v %v", rep, err)
	}
	rep, err = ia.h.Ops(t.Context(), ocsclient.ActionWait, influxdb.OpRecord, nil, ptr(10.0))
	if err != nil || rep.Status != ocsclient.OK || rep.Session["success"] != true {
		t.Fatalf("wait: %v %v", rep, err)
	}
	ignored := ia.Ignored()
	src.publish(t, samples(100, 101)...)
	waitFor(t, 5*time.Second, "events ignored while stopped", func() bool { return ia.Ignored() >= ignored+2 })

	// Started again: writing resumes.
	rep, err = ia.h.Ops(t.Context(), ocsclient.ActionStart, influxdb.OpRecord, nil, nil)
	if err != nil || rep.Status != ocsclient.OK {
		t.Fatalf("start: %v %v", rep, err)
	}
	ia.waitRecording(t)
	later := samples(200, 201)
	src.publish(t, later...)
	waitCount(t, srv, db, srcAddr, "temps", "seq", 5)
	checkValues(t, srv, db, append(first, later...))

	// Schema: the measurements, tag values and field types of the Python
	// agent; excluded and unrecorded feeds absent; the stats feed present.
	waitFor(t, 10*time.Second, "stats feed written", func() bool {
		rows, err := srv.QueryRowsErr(t.Context(), db, `SHOW TAG VALUES WITH KEY = "feed"`)
		return err == nil && len(rows) == 2
	})
	var meas []string
	for _, v := range srv.Query(t, db, "SHOW MEASUREMENTS") {
		meas = append(meas, v[0].(string))
	}
	if want := []string{influxAddr, srcAddr}; !slices.Equal(meas, want) {
		t.Errorf("measurements %v, want %v", meas, want)
	}
	tags := map[string][]string{}
	for _, row := range srv.QueryRows(t, db, `SHOW TAG VALUES WITH KEY = "feed"`) {
		for _, v := range row.Values {
			tags[row.Name] = append(tags[row.Name], v[1].(string))
		}
	}
	if want := map[string][]string{srcAddr: {"temps"}, influxAddr: {influxdb.StatsFeed}}; !maps.EqualFunc(tags, want, slices.Equal) {
		t.Errorf("feed tag values %v, want %v", tags, want)
	}
	if got, want := fieldTypes(t, srv, db, srcAddr), map[string]string{
		"seq": "integer", "i": "integer", "f": "float", "two": "float", "flag": "boolean", "s": "string",
	}; !maps.Equal(got, want) {
		t.Errorf("field types of %s: %v, want %v", srcAddr, got, want)
	}
	checkStatsSchema(t, srv, db)

	// Session data while recording: the Python keys plus the counters.
	sess := ia.waitSession(t, "temps counted", 5*time.Second, func(s map[string]any) bool {
		d, _ := s["data"].(map[string]any)
		fs, _ := d["feeds"].(map[string]any)
		src, _ := fs[srcAddr].(map[string]any)
		temps, _ := src["temps"].(map[string]any)
		n, _ := asInt(temps["points_written"])
		return n == 2
	})
	checkSessionData(t, sess["data"].(map[string]any))
}

// checkValues compares the temps points in InfluxDB with the samples.
func checkValues(t *testing.T, srv *influxtest.Server, db string, want []sample) {
	t.Helper()
	rows := queryRows(t, srv, db, fmt.Sprintf(`SELECT * FROM %q WHERE "feed" = 'temps' ORDER BY time`, srcAddr))
	if len(rows) != 1 || len(rows[0].Values) != len(want) {
		t.Fatalf("temps rows %v, want %d points", rows, len(want))
	}
	col := columns(rows[0])
	for i, v := range rows[0].Values {
		w := want[i]
		ns := int64(w.t * 1e9)
		if got, want := v[col["time"]], time.Unix(0, ns).UTC().Format(time.RFC3339Nano); got != want {
			t.Errorf("point %d time %v, want %v", i, got, want)
		}
		num := func(name string) json.Number { n, _ := v[col[name]].(json.Number); return n }
		if got, _ := num("seq").Int64(); got != w.seq {
			t.Errorf("point %d seq %v, want %d", i, v[col["seq"]], w.seq)
		}
		if got, _ := num("i").Int64(); got != -w.seq {
			t.Errorf("point %d i %v, want %d", i, v[col["i"]], -w.seq)
		}
		if got, _ := num("f").Float64(); got != float64(w.seq)+0.25 {
			t.Errorf("point %d f %v", i, v[col["f"]])
		}
		if got, _ := num("two").Float64(); got != 2 {
			t.Errorf("point %d two %v", i, v[col["two"]])
		}
		if got := v[col["flag"]]; got != (w.seq%2 == 0) {
			t.Errorf("point %d flag %v", i, got)
		}
		if got := v[col["s"]]; got != w.text() {
			t.Errorf("point %d s %q, want %q", i, got, w.text())
		}
		if got := v[col["feed"]]; got != "temps" {
			t.Errorf("point %d feed %v", i, got)
		}
	}
}

func columns(r models.Row) map[string]int {
	m := make(map[string]int, len(r.Columns))
	for i, c := range r.Columns {
		m[c] = i
	}
	return m
}

// fieldTypes returns SHOW FIELD KEYS of a measurement.
func fieldTypes(t *testing.T, srv *influxtest.Server, db, measurement string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, v := range srv.Query(t, db, fmt.Sprintf("SHOW FIELD KEYS FROM %q", measurement)) {
		m[v[0].(string)] = v[1].(string)
	}
	return m
}

// statsTypes are the InfluxDB types of the stats fields.
func statsTypes() map[string]string {
	m := map[string]string{}
	for _, f := range influxdb.StatsFields() {
		m[f] = "integer"
	}
	m["last_write_latency_s"] = "float"
	m["spool_oldest_s"] = "float"
	return m
}

// checkStatsSchema: the stats feed is in InfluxDB with its field types,
// and its counters show the writes.
func checkStatsSchema(t *testing.T, srv *influxtest.Server, db string) {
	t.Helper()
	if got, want := fieldTypes(t, srv, db, influxAddr), statsTypes(); !maps.Equal(got, want) {
		t.Errorf("stats field types %v, want %v", got, want)
	}
	q := fmt.Sprintf(`SELECT max("points_written"), max("batches_written"), max("bytes_sent") FROM %q WHERE "feed" = '%s'`,
		influxAddr, influxdb.StatsFeed)
	// A sample taken before the first write was counted holds zeros (the
	// publisher counts a write when its reply is handled, which can come
	// after the points are queryable): wait for one taken after.
	waitFor(t, 10*time.Second, "a stats sample counting the writes", func() bool {
		rows, err := srv.QueryRowsErr(t.Context(), db, q)
		if err != nil || len(rows) != 1 || len(rows[0].Values) != 1 {
			return false
		}
		for _, v := range rows[0].Values[0][1:] {
			if n, _ := asInt(v); n <= 0 {
				return false
			}
		}
		return true
	})
	rows := queryRows(t, srv, db, q)
	if len(rows) != 1 || len(rows[0].Values) != 1 {
		t.Fatalf("%s: %v", q, rows)
	}
	for i, v := range rows[0].Values[0][1:] {
		if n, _ := asInt(v); n <= 0 {
			t.Errorf("stats %s = %v, want > 0", rows[0].Columns[i+1], v)
		}
	}
}

// checkSessionData: record's session data has the Python keys with their
// types and every stats field with its type.
func checkSessionData(t *testing.T, d map[string]any) {
	t.Helper()
	if d["connected"] != true {
		t.Errorf("connected %v", d["connected"])
	}
	if lu, ok := d["last_updated"].(float64); !ok || time.Since(time.Unix(int64(lu), 0)) > time.Minute {
		t.Errorf("last_updated %#v", d["last_updated"])
	}
	if d["degraded_reason"] != "" {
		t.Errorf("degraded_reason %#v", d["degraded_reason"])
	}
	for name, typ := range statsTypes() {
		switch typ {
		case "integer":
			if _, ok := asInt(d[name]); !ok {
				t.Errorf("session data %s = %#v, want an integer", name, d[name])
			}
		case "float":
			if _, ok := d[name].(float64); !ok {
				t.Errorf("session data %s = %#v, want a float", name, d[name])
			}
		}
	}
	for _, k := range []string{"points_received", "points_written", "batches_written", "bytes_sent"} {
		if n, _ := asInt(d[k]); n <= 0 {
			t.Errorf("session data %s = %v, want > 0", k, d[k])
		}
	}
	if _, ok := d["last_write"].(float64); !ok {
		t.Errorf("last_write %#v", d["last_write"])
	}
	if _, ok := d["rejected_by_reason"].(map[string]any); !ok {
		t.Errorf("rejected_by_reason %#v", d["rejected_by_reason"])
	}
	fs, _ := d["feeds"].(map[string]any)
	agent, _ := fs[srcAddr].(map[string]any)
	temps, _ := agent["temps"].(map[string]any)
	if _, ok := temps["last_written"].(float64); !ok {
		t.Errorf("feeds %v: no last_written float for %s temps", fs, srcAddr)
	}
}
