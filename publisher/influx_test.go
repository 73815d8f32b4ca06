package publisher_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/internal/influxtest"
	"github.com/ocsflux/ocsflux/publisher"
)

// influxConfig points at a real influxd.
func influxConfig(srv *influxtest.Server, db string) publisher.Config {
	cfg := publisher.DefaultConfig()
	cfg.URL = srv.URL
	cfg.Database = db
	cfg.Credentials = publisher.Credentials{Username: "root", Password: "root"}
	if srv.Username != "" {
		cfg.Credentials = publisher.Credentials{Username: srv.Username, Password: srv.Password}
	}
	cfg.FlushInterval = 20 * time.Millisecond
	cfg.ConnectRetry = 50 * time.Millisecond
	cfg.RetryMin = 20 * time.Millisecond
	cfg.RetryMax = 200 * time.Millisecond
	return cfg
}

// queryJSON runs q with epoch=ns and returns the decoded reply, numbers as
// json.Number.
func queryJSON(t *testing.T, srv *influxtest.Server, db, q string) any {
	t.Helper()
	u := srv.URL + "/query?" + url.Values{"db": {db}, "epoch": {"ns"}, "q": {q}}.Encode()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if srv.Username != "" {
		req.SetBasicAuth(srv.Username, srv.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return decodeNumbers(t, body)
}

func decodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// column returns column i of every row of every series.
func column(rows [][]any, i int) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r[i]))
	}
	return out
}

// TestInfluxReference writes the reference FakeDataAgent samples through
// a real influxd, with gzip off and on, and checks that InfluxDB holds
// what the Python agent left there (reference-output.md §6): the same
// measurements, tag, series, field keys with types, and the same rows.
//
// With gzip on, the default level (1) and the Python agent's (9) are both
// used.
func TestInfluxReference(t *testing.T) {
	srv := influxtest.Start(t)
	for _, c := range []struct {
		db    string
		gz    bool
		level int
	}{{"ocs_feeds", false, 0}, {"ocs_gzip", true, 0}, {"ocs_gzip9", true, 9}} {
		db := c.db
		t.Run(db, func(t *testing.T) {
			cfg := influxConfig(srv, db)
			cfg.Gzip, cfg.GzipLevel = c.gz, c.level
			r := start(t, cfg)
			var total uint64
			for _, name := range []string{"fake-data1", "fake-data2"} {
				m := loadEvent(t, "testdata/reference/"+name+".event.json")
				total += uint64(len(m.Blocks[0].Timestamps))
				if !r.Enqueue(m) {
					t.Fatal("Enqueue refused")
				}
			}
			waitFor(t, "the writes", func() bool { return r.Stats().Written == total })
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}

			if got := column(srv.Query(t, db, "SHOW MEASUREMENTS"), 0); !reflect.DeepEqual(got,
				[]string{"observatory.fake-data1", "observatory.fake-data2"}) {
				t.Errorf("SHOW MEASUREMENTS = %q", got)
			}
			if got := column(srv.Query(t, db, "SHOW TAG KEYS"), 0); !reflect.DeepEqual(got, []string{"feed", "feed"}) {
				t.Errorf("SHOW TAG KEYS = %q", got)
			}
			tv := srv.Query(t, db, `SHOW TAG VALUES WITH KEY = "feed"`)
			if got := column(tv, 1); !reflect.DeepEqual(got, []string{"false_temperatures", "false_temperatures"}) {
				t.Errorf("SHOW TAG VALUES = %q", tv)
			}
			if got := column(srv.Query(t, db, "SHOW SERIES"), 0); !reflect.DeepEqual(got, []string{
				"observatory.fake-data1,feed=false_temperatures", "observatory.fake-data2,feed=false_temperatures"}) {
				t.Errorf("SHOW SERIES = %q", got)
			}
			for agent, n := range map[string]int{"observatory.fake-data1": 16, "observatory.fake-data2": 4} {
				var want [][]any
				for i := 0; i < n; i++ {
					want = append(want, []any{fmt.Sprintf("channel_%02d", i), "float"})
				}
				if got := srv.Query(t, db, fmt.Sprintf(`SHOW FIELD KEYS FROM %q`, agent)); !reflect.DeepEqual(got, want) {
					t.Errorf("SHOW FIELD KEYS FROM %s = %v, want %v", agent, got, want)
				}
			}
			for _, name := range []string{"fake-data1", "fake-data2"} {
				want, err := os.ReadFile("testdata/reference/" + name + ".select.json")
				if err != nil {
					t.Fatal(err)
				}
				got := queryJSON(t, srv, db, fmt.Sprintf(`SELECT * FROM "observatory.%s" ORDER BY time DESC LIMIT 2`, name))
				if !reflect.DeepEqual(got, decodeNumbers(t, want)) {
					t.Errorf("%s rows\n got: %v\nwant: %s", name, got, want)
				}
			}
		})
	}
}

// TestInfluxWorkedExample: §7.9 stored with the field types of the
// Python agent, for both protocols (json: µs timestamps).
func TestInfluxWorkedExample(t *testing.T) {
	srv := influxtest.Start(t)
	for _, proto := range []publisher.Protocol{publisher.ProtocolLine, publisher.ProtocolJSON} {
		t.Run(string(proto), func(t *testing.T) {
			db := "we_" + string(proto)
			cfg := influxConfig(srv, db)
			cfg.Protocol = proto
			r := start(t, cfg)
			m, _ := workedExample(t)
			r.Enqueue(m)
			waitFor(t, "the write", func() bool { return r.Stats().Written == 3 })

			types := map[string]string{}
			for _, v := range srv.Query(t, db, "SHOW FIELD KEYS") {
				types[v[0].(string)] = v[1].(string)
			}
			want := map[string]string{"t_1": "float", "count": "integer", "ok": "boolean", "mode": "string", "p": "float"}
			if !reflect.DeepEqual(types, want) {
				t.Errorf("field types %v, want %v", types, want)
			}
			got := queryJSON(t, srv, db, `SELECT "t_1","count","ok","mode","p" FROM "observatory.ls240"`)
			times := map[publisher.Protocol][]string{
				publisher.ProtocolLine: {"1700000000249999872", "1700000000500000000", "1795294567946283776"},
				publisher.ProtocolJSON: {"1700000000250000000", "1700000000500000000", "1795294567946284000"},
			}[proto]
			wantJSON := fmt.Sprintf(`{"results":[{"statement_id":0,"series":[{"name":"observatory.ls240",
				"columns":["time","t_1","count","ok","mode","p"],"values":[
				[%s,null,null,null,null,0.00001],
				[%s,1.5,3,true,"auto",null],
				[%s,2,-4,false,"manual",null]]}]}]}`, times[0], times[1], times[2])
			if !reflect.DeepEqual(got, decodeNumbers(t, []byte(wantJSON))) {
				t.Errorf("rows\n got: %v\nwant: %s", got, wantJSON)
			}
		})
	}
}

// TestInfluxEscapingRoundTrip: names and string values with every special
// character come back from a real influxd exactly as sent.
func TestInfluxEscapingRoundTrip(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "esc"
	agent := `obs,er vatory=1\x`
	feed := `fe ed,=x"y`
	key := `k e,y=1"q`
	str := "a \"quoted\" \\back\\slash\\, comma, eq=, two  spaces and\nnew\r\nlines\ttab\\"
	r := start(t, influxConfig(srv, db))
	r.Enqueue(msg(agent, feed, []float64{1.5}, field(key, feeds.String(str)), field("plain", feeds.String(`\`))))
	waitFor(t, "the write", func() bool { return r.Stats().Written == 1 })
	if st := r.Stats(); st.RejectedPoints != 0 || len(st.Rejected) != 0 {
		t.Fatalf("rejected: %+v", st.Rejected)
	}

	if got := column(srv.Query(t, db, "SHOW MEASUREMENTS"), 0); !reflect.DeepEqual(got, []string{agent}) {
		t.Errorf("SHOW MEASUREMENTS = %q, want %q", got, agent)
	}
	if got := column(srv.Query(t, db, `SHOW TAG VALUES WITH KEY = "feed"`), 1); !reflect.DeepEqual(got, []string{feed}) {
		t.Errorf("tag values %q, want %q", got, feed)
	}
	keys := column(srv.Query(t, db, "SHOW FIELD KEYS"), 0)
	sort.Strings(keys)
	if want := []string{key, "plain"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("field keys %q, want %q", keys, want)
	}
	rows := srv.QueryRows(t, db, `SELECT * FROM `+quoteIdent(agent))
	if len(rows) != 1 || len(rows[0].Values) != 1 {
		t.Fatalf("rows %+v", rows)
	}
	got := map[string]any{}
	for i, c := range rows[0].Columns {
		got[c] = rows[0].Values[0][i]
	}
	if got[key] != str || got["plain"] != `\` || got["feed"] != feed {
		t.Errorf("read back %q, want %s=%q plain=%q feed=%q", got, key, str, `\`, feed)
	}
}

// TestInfluxGzipVolume writes 30 000 FakeDataAgent-like points of three
// agents, interleaved message by message, with gzip on (the line-protocol
// compressor, several tables periods and batches) and reads back every
// count and sum exactly.
func TestInfluxGzipVolume(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "gzvol"
	cfg := influxConfig(srv, db)
	cfg.Gzip = true
	r := start(t, cfg)
	const agents, msgs, per = 3, 100, 100
	want := map[string]float64{}
	for i := range msgs {
		for a := range agents {
			m := fakeDataMessage(per, 10)
			m.Info.AgentAddress = fmt.Sprintf("observatory.fake-data%d", a)
			for k := range m.Blocks[0].Timestamps {
				m.Blocks[0].Timestamps[k] += float64(i*per) / 9.5
			}
			for _, v := range m.Blocks[0].Fields[3].Values {
				want[m.Info.AgentAddress] += v.F
			}
			if !r.Enqueue(m) {
				t.Fatal("Enqueue refused")
			}
		}
	}
	waitFor(t, "the writes", func() bool { return r.Stats().Written == agents*msgs*per })
	st := r.Stats()
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if st.Batches < 2 || st.BytesSent*3 > uint64(agents*msgs*per*375) {
		t.Errorf("%d batches, %d bytes sent: want several batches, compressed", st.Batches, st.BytesSent)
	}
	for agent, sum := range want {
		rows := srv.Query(t, db, fmt.Sprintf(`SELECT count(channel_00), sum(channel_03) FROM %q`, agent))
		if len(rows) != 1 {
			t.Fatalf("%s: rows %v", agent, rows)
		}
		n, _ := strconv.ParseInt(fmt.Sprint(rows[0][1]), 10, 64)
		got, _ := strconv.ParseFloat(fmt.Sprint(rows[0][2]), 64)
		if n != msgs*per || math.Abs(got-sum) > 1e-9*math.Abs(sum) {
			t.Errorf("%s: count %d sum %v, want %d and %v", agent, n, got, msgs*per, sum)
		}
	}
}

// quoteIdent quotes an InfluxQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// TestInfluxTypeConflict: InfluxDB's real partial-write reply for a field
// type conflict keeps the good lines and names the bad field.
func TestInfluxTypeConflict(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "conflict"
	r := start(t, influxConfig(srv, db))
	r.Enqueue(msg("obs.a", "f", []float64{1}, field("x", feeds.Float(0.5))))
	waitFor(t, "the first write", func() bool { return r.Stats().Written == 1 })
	// The same field as an integer, next to good points of another field.
	r.Enqueue(msg("obs.a", "f", []float64{2, 3}, field("x", feeds.Int(1), feeds.Int(2))))
	r.Enqueue(msg("obs.a", "g", []float64{2}, field("y", feeds.Int(1))))
	waitFor(t, "the partial write", func() bool { return r.Stats().Batches == 2 })
	st := r.Stats()
	if st.Written != 2 || st.Rejected[publisher.ReasonTypeConflict] != 2 || !st.Connected || st.Degraded != "" {
		t.Errorf("stats %+v", st)
	}
	if n := len(srv.Query(t, db, `SELECT "y" FROM "obs.a"`)); n != 1 {
		t.Errorf("good line not stored: %d rows", n)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if l := r.logs.String(); !strings.Contains(l, "agent=obs.a feed=f field=x count=2") {
		t.Errorf("type conflict not logged with names:\n%s", l)
	}
}

// TestInfluxOutage: while influxd is down the data is kept and the
// publisher degraded; once it is back everything is written, in order and
// once.
func TestInfluxOutage(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "outage"
	cfg := influxConfig(srv, db)
	cfg.Timeout = 2 * time.Second
	r := start(t, cfg)
	<-r.Connected()
	r.Enqueue(msg("obs.a", "f", []float64{1}, field("x", feeds.Int(1))))
	waitFor(t, "the first write", func() bool { return r.Stats().Written == 1 })

	srv.Kill()
	for i := 2; i <= 5; i++ {
		r.Enqueue(msg("obs.a", "f", []float64{float64(i)}, field("x", feeds.Int(int64(i)))))
	}
	waitFor(t, "degraded", func() bool { return strings.HasPrefix(r.Stats().Degraded, "InfluxDB unreachable") })
	if st := r.Stats(); st.Connected || st.PendingPoints != 4 {
		t.Errorf("while down: %+v", st)
	}
	if err := srv.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the kept points", func() bool { return r.Stats().Written == 5 })
	if st := r.Stats(); !st.Connected || st.Degraded != "" {
		t.Errorf("after recovery: %+v", st)
	}
	if got := column(srv.Query(t, db, `SELECT "x" FROM "obs.a"`), 1); !reflect.DeepEqual(got, []string{"1", "2", "3", "4", "5"}) {
		t.Errorf("stored %q", got)
	}
}

// TestInfluxStartWhileDown: data enqueued while InfluxDB is not up yet is
// written once it answers (the Python agent keeps it too); the database is
// created then.
func TestInfluxStartWhileDown(t *testing.T) {
	srv := influxtest.Start(t)
	srv.Kill()
	const db = "late"
	r := start(t, influxConfig(srv, db))
	r.Enqueue(msg("obs.a", "f", []float64{1, 2}, field("x", feeds.Int(1), feeds.Int(2))))
	waitFor(t, "a failed attempt", func() bool { return r.Stats().Degraded != "" })
	if err := srv.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the write", func() bool { return r.Stats().Written == 2 })
	if n := len(srv.Query(t, db, `SELECT "x" FROM "obs.a"`)); n != 2 {
		t.Errorf("%d rows", n)
	}
}

// TestInfluxDatabaseDropped: a database dropped while running is created
// again and the data written (Python fails until restarted).
func TestInfluxDatabaseDropped(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "dropme"
	r := start(t, influxConfig(srv, db))
	r.Enqueue(msg("obs.a", "f", []float64{1}, field("x", feeds.Int(1))))
	waitFor(t, "the first write", func() bool { return r.Stats().Written == 1 })
	srv.Exec(t, "", `DROP DATABASE "dropme"`)
	r.Enqueue(msg("obs.a", "f", []float64{2}, field("x", feeds.Int(2))))
	waitFor(t, "the second write", func() bool { return r.Stats().Written == 2 })
	if n := len(srv.Query(t, db, `SELECT "x" FROM "obs.a"`)); n != 1 {
		t.Errorf("%d rows after recreation, want 1", n)
	}
}

// TestInfluxAuth: against an influxd with authentication, wrong
// credentials leave the publisher degraded with "authentication failed"
// while it keeps the data; right ones create the database and write.
func TestInfluxAuth(t *testing.T) {
	srv := influxtest.StartOpts(t, influxtest.Options{Auth: true})
	t.Run("wrong password", func(t *testing.T) {
		cfg := influxConfig(srv, "authdb")
		cfg.Credentials.Password = "wrong-secret"
		r := start(t, cfg)
		r.Enqueue(msg("obs.a", "f", []float64{1}, field("x", feeds.Int(1))))
		waitFor(t, "degraded", func() bool { return strings.HasPrefix(r.Stats().Degraded, "authentication failed") })
		if st := r.Stats(); st.PendingPoints != 1 {
			t.Errorf("data not kept: %+v", st)
		}
		if strings.Contains(r.logs.String(), "wrong-secret") {
			t.Errorf("password logged")
		}
	})
	t.Run("right password", func(t *testing.T) {
		r := start(t, influxConfig(srv, "authdb"))
		r.Enqueue(msg("obs.a", "f", []float64{1}, field("x", feeds.Int(1))))
		waitFor(t, "the write", func() bool { return r.Stats().Written == 1 })
	})
}
