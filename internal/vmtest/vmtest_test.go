package vmtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/internal/vmtest"
)

// The facts below were recorded with the Debian package victoria-metrics
// 1.79.5+ds1-2+b5, whose `victoria-metrics -version` prints an empty line
// (the Debian build carries no version string; /metrics has
// vm_app_version{version=""}). VictoriaMetrics 1.79.5 answers 204 to /write
// and /api/v2/write, also when some lines are malformed (those are skipped
// and logged) and when points are dropped for their timestamps.

func start(t *testing.T) *vmtest.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("starts victoria-metrics; skipped under -short")
	}
	return vmtest.Start(t)
}

var client = &http.Client{Timeout: 30 * time.Second}

// request sends method to srv's path and returns the status and body.
func request(t *testing.T, srv *vmtest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", method, path, err, srv.Output())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

// write posts line protocol and requires 204.
func write(t *testing.T, srv *vmtest.Server, path, lines string) {
	t.Helper()
	if code, body := request(t, srv, http.MethodPost, path, lines); code != http.StatusNoContent {
		t.Fatalf("POST %s: HTTP %d, want 204: %s\n%s", path, code, body, srv.Output())
	}
}

// series builds an expected exported series.
func series(labels map[string]string, values []float64, ts []int64) vmtest.Series {
	return vmtest.Series{Metric: labels, Values: values, Timestamps: ts}
}

func checkExport(t *testing.T, srv *vmtest.Server, match string, want []vmtest.Series) {
	t.Helper()
	got := srv.Export(t, match)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("export %s:\n got %s\nwant %s\n%s", match, dump(got), dump(want), srv.Output())
	}
}

func dump(ss []vmtest.Series) string {
	var b strings.Builder
	for _, s := range ss {
		m, _ := json.Marshal(s.Metric)
		fmt.Fprintf(&b, "\n  %s %v %v", m, s.Values, s.Timestamps)
	}
	return b.String()
}

func TestWriteV1(t *testing.T) {
	srv := start(t)
	// Every field is its own series measurement_field (separator "_",
	// -influxSkipSingleField off: a single field keeps its suffix). Tags
	// become labels; ?db= becomes label "db" unless a tag "db" exists (the
	// tag wins). Booleans are 1/0, integers (i) and unsigned (u) plain
	// numbers. String fields are NOT dropped: a quoted number is parsed
	// ("12.5" -> 12.5), any other string is stored as 0. Nanosecond
	// timestamps are truncated (not rounded) to milliseconds.
	write(t, srv, "/write?db=x",
		`meas,feed=a f1=1,f2=2.5,b=true,nb=false,i=7i,u=3u,s="text",sn="12.5" 1700000000123999999
single,feed=b v=-1.5e3 1000000000000000000
dbtag,feed=c,db=tagged v=1 1700000000000000000
notags v=2 1700000000000000000
esc\ m,feed=a\ b f\ 1=3 1700000000000000000
`)
	srv.Flush(t)
	labels := func(name string) map[string]string {
		return map[string]string{"__name__": name, "db": "x", "feed": "a"}
	}
	ts := []int64{1700000000123}
	checkExport(t, srv, `{__name__=~"meas_.*"}`, []vmtest.Series{
		series(labels("meas_b"), []float64{1}, ts),
		series(labels("meas_f1"), []float64{1}, ts),
		series(labels("meas_f2"), []float64{2.5}, ts),
		series(labels("meas_i"), []float64{7}, ts),
		series(labels("meas_nb"), []float64{0}, ts),
		series(labels("meas_s"), []float64{0}, ts),
		series(labels("meas_sn"), []float64{12.5}, ts),
		series(labels("meas_u"), []float64{3}, ts),
	})
	checkExport(t, srv, "single_v", []vmtest.Series{series(
		map[string]string{"__name__": "single_v", "db": "x", "feed": "b"},
		[]float64{-1500}, []int64{1000000000000})})
	checkExport(t, srv, "dbtag_v", []vmtest.Series{series(
		map[string]string{"__name__": "dbtag_v", "db": "tagged", "feed": "c"},
		[]float64{1}, []int64{1700000000000})})
	checkExport(t, srv, "notags_v", []vmtest.Series{series(
		map[string]string{"__name__": "notags_v", "db": "x"},
		[]float64{2}, []int64{1700000000000})})
	checkExport(t, srv, `{feed="a b"}`, []vmtest.Series{series(
		map[string]string{"__name__": "esc m_f 1", "db": "x", "feed": "a b"},
		[]float64{3}, []int64{1700000000000})})
	if n := srv.CountPoints(t, `{db="x"}`); n != 8+1+1+1 {
		t.Errorf(`CountPoints({db="x"}) = %d, want 11`, n)
	}
	// /write without db: no db label.
	write(t, srv, "/write", "nodb,feed=a v=1 1700000000000000000\n")
	srv.Flush(t)
	checkExport(t, srv, "nodb_v", []vmtest.Series{series(
		map[string]string{"__name__": "nodb_v", "feed": "a"},
		[]float64{1}, []int64{1700000000000})})
}

func TestWriteV2(t *testing.T) {
	srv := start(t)
	// org and bucket do not become labels; only an explicit ?db= does.
	write(t, srv, "/api/v2/write?org=o&bucket=b&precision=ns",
		"meas2,feed=c f1=4,f2=5 1700000000999999999\n")
	write(t, srv, "/api/v2/write?org=o&bucket=b&precision=ns&db=y",
		"meas3,feed=c f1=6 1700000000000000000\n")
	srv.Flush(t)
	checkExport(t, srv, `{feed="c"}`, []vmtest.Series{
		series(map[string]string{"__name__": "meas2_f1", "feed": "c"}, []float64{4}, []int64{1700000000999}),
		series(map[string]string{"__name__": "meas2_f2", "feed": "c"}, []float64{5}, []int64{1700000000999}),
		series(map[string]string{"__name__": "meas3_f1", "db": "y", "feed": "c"}, []float64{6}, []int64{1700000000000}),
	})
}

func TestPrecision(t *testing.T) {
	srv := start(t)
	// Without precision both endpoints read nanoseconds.
	for _, w := range []struct{ path, line string }{
		{"/write?db=x", "p,feed=v1ns v=1 1700000000001999999"},
		{"/write?db=x&precision=ns", "p,feed=v1ns v=2 1700000000002000000"},
		{"/write?db=x&precision=u", "p,feed=v1u v=1 1700000000003999"},
		{"/write?db=x&precision=ms", "p,feed=v1ms v=1 1700000000004"},
		{"/write?db=x&precision=s", "p,feed=v1s v=1 1700000005"},
		{"/api/v2/write?org=o&bucket=b", "p,feed=v2ns v=1 1700000000006999999"},
		{"/api/v2/write?org=o&bucket=b&precision=us", "p,feed=v2us v=1 1700000000007999"},
		{"/api/v2/write?org=o&bucket=b&precision=ms", "p,feed=v2ms v=1 1700000000008"},
		{"/api/v2/write?org=o&bucket=b&precision=s", "p,feed=v2s v=1 1700000009"},
	} {
		write(t, srv, w.path, w.line+"\n")
	}
	srv.Flush(t)
	got := map[string][]int64{}
	for _, s := range srv.Export(t, "p_v") {
		got[s.Metric["feed"]] = append(got[s.Metric["feed"]], s.Timestamps...)
	}
	want := map[string][]int64{
		"v1ns": {1700000000001, 1700000000002},
		"v1u":  {1700000000003},
		"v1ms": {1700000000004},
		"v1s":  {1700000005000},
		"v2ns": {1700000000006},
		"v2us": {1700000000007},
		"v2ms": {1700000000008},
		"v2s":  {1700000009000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("timestamps by feed:\n got %v\nwant %v", got, want)
	}
}

func TestTimestampsAndValues(t *testing.T) {
	srv := start(t)
	now := time.Now()
	// -retentionPeriod=100y keeps 1973. Points more than two days ahead
	// are dropped (with 204); one hour ahead is kept and exported.
	// Malformed lines are skipped, the rest of the body is kept. Duplicate
	// points are all kept (no deduplication). NaN is stored but not
	// exported; ±Inf are.
	write(t, srv, "/write?db=x", fmt.Sprintf(`old,feed=a v=1 100000000000000000
future,feed=a v=1 %d
soon,feed=a v=1 %d
this is not line protocol
dup,feed=a v=1 1700000000000000000
dup,feed=a v=2 1700000000000000000
dup,feed=a v=3 1600000000000000000
inf,feed=a pos=Inf,neg=-Inf,nan=NaN 1700000000000000000
`, now.Add(72*time.Hour).UnixNano(), now.Add(time.Hour).UnixNano()))
	srv.Flush(t)
	lbl := func(name string) map[string]string {
		return map[string]string{"__name__": name, "db": "x", "feed": "a"}
	}
	checkExport(t, srv, "old_v", []vmtest.Series{series(lbl("old_v"), []float64{1}, []int64{100000000000})})
	if n := srv.CountPoints(t, "future_v"); n != 0 {
		t.Errorf("point three days ahead: %d exported, want 0 (dropped)", n)
	}
	checkExport(t, srv, "soon_v", []vmtest.Series{series(lbl("soon_v"), []float64{1},
		[]int64{now.Add(time.Hour).UnixMilli()})})
	checkExport(t, srv, "dup_v", []vmtest.Series{series(lbl("dup_v"), []float64{3, 1, 2},
		[]int64{1600000000000, 1700000000000, 1700000000000})})
	checkExport(t, srv, `{__name__=~"inf_.*"}`, []vmtest.Series{
		series(lbl("inf_neg"), []float64{math.Inf(-1)}, []int64{1700000000000}),
		series(lbl("inf_pos"), []float64{math.Inf(1)}, []int64{1700000000000}),
	})
	if !strings.Contains(srv.Output(), "this is not line protocol") {
		t.Errorf("malformed line not logged; output:\n%s", srv.Output())
	}
	if !strings.Contains(srv.Output(), "too big timestamp") {
		t.Errorf("dropped future point not logged; output:\n%s", srv.Output())
	}
}

func TestInfluxEndpoints(t *testing.T) {
	srv := start(t)
	// VictoriaMetrics 1.79.5 has no InfluxDB 2 management API: GET
	// /api/v2/buckets answers 400 "unsupported path requested".
	code, body := request(t, srv, http.MethodGet, "/api/v2/buckets", "")
	if code != http.StatusBadRequest || !strings.Contains(body, "unsupported path requested") {
		t.Errorf("GET /api/v2/buckets: HTTP %d %q, want 400 unsupported path", code, body)
	}
	// /query answers 200 with a fixed SHOW DATABASES reply listing only
	// "_internal" (the -influx.databaseNames default), whatever the query
	// and method; it runs no InfluxQL.
	const showDatabases = `{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["_internal"]]}]}]}`
	for _, r := range []struct{ method, path, body string }{
		{http.MethodGet, "/query?q=SHOW+DATABASES", ""},
		{http.MethodGet, "/query?q=SELECT+*+FROM+m&db=x", ""},
		{http.MethodPost, "/query?q=SHOW+DATABASES", ""},
	} {
		code, body := request(t, srv, r.method, r.path, r.body)
		if code != http.StatusOK || body != showDatabases {
			t.Errorf("%s %s: HTTP %d %s, want 200 %s", r.method, r.path, code, body, showDatabases)
		}
	}
	// /ping answers 204 like InfluxDB 1.x; /health answers 200 "OK".
	if code, body := request(t, srv, http.MethodGet, "/ping", ""); code != http.StatusNoContent {
		t.Errorf("GET /ping: HTTP %d %q, want 204", code, body)
	}
	if code, body := request(t, srv, http.MethodGet, "/health", ""); code != http.StatusOK || body != "OK" {
		t.Errorf("GET /health: HTTP %d %q, want 200 OK", code, body)
	}
}

func TestKillResume(t *testing.T) {
	srv := start(t)
	url := srv.URL()
	write(t, srv, "/write?db=x", "kr,feed=a v=1 1700000000000000000\n")
	srv.Persist(t)
	// Flush alone does not put points on disk: victoria-metrics 1.79 does
	// that about 5 s later. Whether this one survives the immediate Kill
	// is therefore only logged (it is normally lost).
	write(t, srv, "/write?db=x", "flushed,feed=a v=1 1700000000000000000\n")
	srv.Flush(t)
	srv.Kill()
	srv.Kill() // a second Kill does nothing

	// While killed nothing answers on the port.
	if resp, err := client.Post(url+"/write?db=x", "text/plain",
		strings.NewReader("kr,feed=a v=9 1700000000000000000\n")); err == nil {
		resp.Body.Close()
		t.Fatalf("write while killed: HTTP %d, want a connection error", resp.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if srv.URL() != url {
		t.Errorf("URL after Resume = %s, want %s", srv.URL(), url)
	}
	if err := srv.Resume(ctx); err == nil {
		t.Error("Resume while running: no error")
	}
	t.Logf("flushed but not persisted before Kill: %d of 1 points survived",
		srv.CountPoints(t, "flushed_v"))
	write(t, srv, "/api/v2/write?org=o&bucket=b&precision=ns&db=x", "kr,feed=a v=2 1700000001000000000\n")
	srv.Flush(t)
	checkExport(t, srv, "kr_v", []vmtest.Series{series(
		map[string]string{"__name__": "kr_v", "db": "x", "feed": "a"},
		[]float64{1, 2}, []int64{1700000000000, 1700000001000})})
}

func TestStop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts victoria-metrics; skipped under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := vmtest.Launch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := srv.Dir()
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("data dir: %v", err)
	}
	if _, err := srv.ExportErr(ctx, "bogus{"); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("ExportErr(bogus{) = %v, want an HTTP 400 error", err)
	}
	if got, err := srv.ExportErr(ctx, "nothing_here"); err != nil || len(got) != 0 {
		t.Errorf("ExportErr(nothing_here) = %v, %v; want none", got, err)
	}
	srv.Stop()
	srv.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data dir after Stop: %v, want it removed", err)
	}
	if err := srv.FlushErr(ctx); err == nil {
		t.Error("FlushErr after Stop: no error")
	}
	if err := srv.Resume(ctx); err == nil {
		t.Error("Resume after Stop: no error")
	}
}
