package publisher_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/internal/influxtest"
	"github.com/ocsflux/ocsflux/publisher"
)

// count returns count("x") of measurement m.
func countX(t *testing.T, srv *influxtest.Server, db, m string) string {
	t.Helper()
	rows := srv.Query(t, db, fmt.Sprintf(`SELECT count("x") FROM %s`, quoteIdent(m)))
	if len(rows) != 1 {
		return "0"
	}
	return fmt.Sprint(rows[0][1])
}

// TestInfluxDeadLetterTypeConflict: a batch of 10 000 points, one of which
// has a field type InfluxDB refuses: 9 999 stored, 1 dead-lettered (found
// from the reply, no resend), logged once with both types, the publisher
// never degraded.
func TestInfluxDeadLetterTypeConflict(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "conflict10k"
	cfg := influxConfig(srv, db)
	cfg.SpoolDir = t.TempDir()
	cfg.BatchPoints = 10000
	r := start(t, cfg)
	r.Enqueue(msg("obs.tc", "f", []float64{1}, field("x", feeds.Float(0.5))))
	waitFor(t, "the first write", func() bool { return r.Stats().Written == 1 })

	const n, bad = 10000, 4321
	m := msg("obs.tc", "f", nil, field("x"))
	for i := 0; i < n; i++ {
		m.Blocks[0].Timestamps = append(m.Blocks[0].Timestamps, float64(10+i))
		v := feeds.Float(float64(i) + 0.5)
		if i == bad {
			v = feeds.Int(int64(i))
		}
		m.Blocks[0].Fields[0].Values = append(m.Blocks[0].Fields[0].Values, v)
	}
	r.Enqueue(m)
	waitFor(t, "the batch", func() bool { return r.Stats().DeadLettered == 1 })
	st := r.Stats()
	if st.Written != 1+n-1 || st.Batches != 2 || !st.Connected || st.Degraded != "" || st.RejectedPoints != 1 {
		t.Errorf("stats %+v", st)
	}
	want := []publisher.DeadLetterStats{{Agent: "obs.tc", Field: "x", Reason: publisher.ReasonTypeConflict, Count: 1}}
	if !reflect.DeepEqual(st.DeadLetters, want) {
		t.Errorf("dead letters %+v", st.DeadLetters)
	}
	if got := countX(t, srv, db, "obs.tc"); got != fmt.Sprint(1+n-1) {
		t.Errorf("count(x) = %s, want %d", got, n)
	}

	// More of the same: dead-lettered, logged only once, never degraded.
	r.Enqueue(msg("obs.tc", "f", []float64{20000}, field("x", feeds.Int(1))))
	waitFor(t, "the second dead letter", func() bool { return r.Stats().DeadLettered == 2 })
	if st := r.Stats(); st.Degraded != "" || !st.Connected {
		t.Errorf("degraded by a poison point: %+v", st)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	l := r.logs.String()
	if c := strings.Count(l, `msg="field type conflict`); c != 1 ||
		!strings.Contains(l, "agent=obs.tc feed=f field=x sent_type=integer influxdb_type=float") {
		t.Errorf("type conflict logged %d times (want once, with the types):\n%s", c, l)
	}
	dls := readDeadLetters(t, filepath.Join(cfg.SpoolDir, publisher.DeadLetterFileName))
	if len(dls) != 2 {
		t.Fatalf("%d dead letters", len(dls))
	}
	d := dls[0]
	if d.Agent != "obs.tc" || d.Feed != "f" || d.Field != "x" || d.Value != float64(bad) || d.Type != "integer" ||
		d.ExistingType != "float" || d.Reason != publisher.ReasonTypeConflict || !d.Time.Equal(time.Unix(10+bad, 0)) ||
		d.Line != fmt.Sprintf("obs.tc,feed=f x=%di %d", bad, (10+bad)*int64(time.Second)) {
		t.Errorf("dead letter %+v", d)
	}
}

// TestInfluxDeadLetterBisect: a line influxd cannot parse, in a batch of
// 2 000, with a message that does not match any line sent (a proxy
// corrupts it on the way): the batch is bisected until that line is alone;
// only it is dead-lettered, the 1 999 others are stored.
func TestInfluxDeadLetterBisect(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "bisect"
	var writes atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("proxy: %v", err)
			return
		}
		if r.URL.Path == "/write" {
			writes.Add(1)
			body = bytes.ReplaceAll(body, []byte("x=777i"), []byte("x=777z"))
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, srv.URL+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	cfg := influxConfig(srv, db)
	cfg.URL = proxy.URL
	cfg.DeadLetterFile = filepath.Join(t.TempDir(), "dead.jsonl")
	cfg.BatchPoints = 10000
	const n = 2000
	m := msg("obs.bis", "f", nil, field("x"))
	for i := 0; i < n; i++ {
		m.Blocks[0].Timestamps = append(m.Blocks[0].Timestamps, float64(i+1))
		m.Blocks[0].Fields[0].Values = append(m.Blocks[0].Fields[0].Values, feeds.Int(int64(i)))
	}
	r := start(t, cfg)
	<-r.Connected()
	r.Enqueue(m)
	waitFor(t, "the dead letter", func() bool { return r.Stats().DeadLettered == 1 })
	st := r.Stats()
	if st.Written != n-1 || st.Rejected[publisher.ReasonUnparsable] != 1 || !st.Connected || st.Degraded != "" {
		t.Errorf("stats %+v", st)
	}
	if got := countX(t, srv, db, "obs.bis"); got != fmt.Sprint(n-1) {
		t.Errorf("count(x) = %s, want %d", got, n-1)
	}
	if rows := srv.Query(t, db, `SELECT "x" FROM "obs.bis" WHERE "x" = 777`); len(rows) != 0 {
		t.Errorf("the bad line was stored: %v", rows)
	}
	// log2(2000) < 11 levels, two requests each, plus the first.
	if w := writes.Load(); w > 1+2*11 {
		t.Errorf("%d write requests to isolate one line of %d", w, n)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	dls := readDeadLetters(t, cfg.DeadLetterFile)
	if len(dls) != 1 || dls[0].Line != "obs.bis,feed=f x=777i 778000000000" || dls[0].Reason != publisher.ReasonUnparsable ||
		dls[0].Agent != "obs.bis" || dls[0].Feed != "f" || !dls[0].Time.Equal(time.Unix(778, 0)) {
		t.Errorf("dead letters %+v", dls)
	}
}

// TestInfluxDeadLetterUnparsableSpooled: a spooled batch holding a line
// influxd cannot parse: influxd names it, so it is dead-lettered without
// a resend; the other lines are stored.
func TestInfluxDeadLetterUnparsableSpooled(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "unparsable"
	cfg := influxConfig(srv, db)
	cfg.SpoolDir = t.TempDir()
	s, err := publisher.OpenSpool(publisher.SpoolConfig{Dir: cfg.SpoolDir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := spoolBatch("obs.sp", 0, 50)
	const badLine = "obs.sp,feed=f x=bad 99000000000"
	b.Lines = append(b.Lines, badLine+"\n"...)
	b.Ends = append(b.Ends, len(b.Lines))
	if err := s.Append(b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg)
	waitFor(t, "the replay", func() bool { st := r.Stats(); return st.SpoolPoints == 0 && st.DeadLettered == 1 })
	st := r.Stats()
	if st.Replayed != 50 || st.Batches != 1 || st.Rejected[publisher.ReasonUnparsable] != 1 {
		t.Errorf("stats %+v", st)
	}
	if got := countX(t, srv, db, "obs.sp"); got != "50" {
		t.Errorf("count(x) = %s", got)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	dls := readDeadLetters(t, filepath.Join(cfg.SpoolDir, publisher.DeadLetterFileName))
	if len(dls) != 1 || dls[0].Line != badLine || dls[0].Reason != publisher.ReasonUnparsable ||
		dls[0].Agent != "obs.sp" || dls[0].Feed != "f" || !strings.Contains(dls[0].Error, "invalid boolean") {
		t.Errorf("dead letters %+v", dls)
	}
}

// TestInfluxDeadLetterNewMeasurementConflict: one batch creating a
// measurement whose field has two types: influxd refuses the whole batch
// with a bare "field type conflict"; bisection stores the points of the
// first type and dead-letters the others.
func TestInfluxDeadLetterNewMeasurementConflict(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "newconflict"
	cfg := influxConfig(srv, db)
	r := start(t, cfg)
	<-r.Connected()
	r.Enqueue(msg("obs.new", "f", []float64{1, 2, 3, 4},
		field("x", feeds.Int(1), feeds.Float(0.5), feeds.Int(2), feeds.Float(1.5))))
	waitFor(t, "the batch", func() bool { return r.Stats().DeadLettered == 2 })
	st := r.Stats()
	want := []publisher.DeadLetterStats{{Agent: "obs.new", Field: "x", Reason: publisher.ReasonTypeConflict, Count: 2}}
	if st.Written != 2 || !reflect.DeepEqual(st.DeadLetters, want) || st.Degraded != "" {
		t.Errorf("stats %+v", st)
	}
	if got := countX(t, srv, db, "obs.new"); got != "2" {
		t.Errorf("count(x) = %s", got)
	}
}
