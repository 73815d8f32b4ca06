package influxdb_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/agents"
	ocsclient "github.com/ocsflux/ocsflux/agents/client"
	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/agents/router"
	"github.com/ocsflux/ocsflux/internal/vmtest"
)

// v2TestOptions are the options of an InfluxDBAgentv2 in the tests: short
// flush interval and shutdown timeout, as testOptions.
func v2TestOptions(initialState string) influxdb.Options {
	o := influxdb.DefaultsV2()
	o.InitialState = initialState
	o.FlushInterval = 100 * time.Millisecond
	o.ShutdownTimeout = 2 * time.Second
	return o
}

// v2Env is an INFLUXDB_V2_* environment for url, org ocs and bucket.
func v2Env(url, bucket, token string) *testEnv {
	return &testEnv{m: map[string]string{
		influxdb.EnvV2URL:    url,
		influxdb.EnvV2Org:    "ocs",
		influxdb.EnvV2Bucket: bucket,
		influxdb.EnvV2Token:  token,
	}}
}

// unset removes a variable from the environment.
func (e *testEnv) unset(k string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, k)
}

// startFeedsAgent starts a Go agent <testRoot>.<id> with the given recorded
// feeds (buffer_time 0: every sample is sent at once) and its heartbeat
// off; it stops when the test ends.
func startFeedsAgent(t *testing.T, r *router.Router, id string, names ...string) map[string]*agents.Feed {
	t.Helper()
	var specs []agents.FeedSpec
	for _, n := range names {
		specs = append(specs, agents.FeedSpec{Name: n, Record: true})
	}
	_, fs := startGoAgent(t, r, id, "FeedsAgent", specs...)
	return fs
}

// fakeRequest is one request a fakeInflux received.
type fakeRequest struct {
	Method, Path string
	Query        url.Values
	Auth         string
	Body         []byte
}

func (r fakeRequest) String() string {
	return fmt.Sprintf("%s %s?%s (auth %q, %d bytes)", r.Method, r.Path, r.Query.Encode(), r.Auth, len(r.Body))
}

// fakeInflux is an httptest server on 127.0.0.1 answering as InfluxDB 1.x
// (/query SHOW DATABASES and CREATE DATABASE, /write) and 2.x
// (/api/v2/buckets, /api/v2/orgs, /api/v2/write) do, and recording every
// request. Buckets and databases start missing.
type fakeInflux struct {
	srv   *httptest.Server
	orgID string

	mu      sync.Mutex
	reqs    []fakeRequest
	buckets map[string]bool
	dbs     map[string]bool
}

func startFakeInflux(t *testing.T) *fakeInflux {
	t.Helper()
	f := &fakeInflux{orgID: "0a1b2c3d4e5f6071", buckets: map[string]bool{}, dbs: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeInflux) URL() string { return f.srv.URL }

func (f *fakeInflux) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, fakeRequest{Method: r.Method, Path: r.URL.Path, Query: q, Auth: r.Header.Get("Authorization"), Body: body})
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.Method == http.MethodPost && (r.URL.Path == "/write" || r.URL.Path == "/api/v2/write"):
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && r.URL.Path == "/api/v2/buckets":
		var list []any
		if name := q.Get("name"); f.buckets[name] {
			list = append(list, map[string]any{"id": "b-" + name, "name": name, "orgID": f.orgID})
		}
		reply(http.StatusOK, map[string]any{"buckets": append([]any{}, list...)})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v2/orgs":
		reply(http.StatusOK, map[string]any{"orgs": []any{map[string]any{"id": f.orgID, "name": q.Get("org")}}})
	case r.Method == http.MethodPost && r.URL.Path == "/api/v2/buckets":
		var b struct {
			OrgID string `json:"orgID"`
			Name  string `json:"name"`
		}
		if err := json.Unmarshal(body, &b); err != nil || b.OrgID != f.orgID || b.Name == "" {
			reply(http.StatusBadRequest, map[string]any{"code": "invalid", "message": "bad bucket: " + string(body)})
			return
		}
		f.buckets[b.Name] = true
		reply(http.StatusCreated, map[string]any{"id": "b-" + b.Name, "name": b.Name, "orgID": b.OrgID})
	case r.URL.Path == "/query" && strings.HasPrefix(q.Get("q"), "SHOW DATABASES"):
		var values []any
		for _, db := range slices.Sorted(maps.Keys(f.dbs)) {
			values = append(values, []any{db})
		}
		res := map[string]any{"statement_id": 0}
		if len(values) > 0 {
			res["series"] = []any{map[string]any{"name": "databases", "columns": []any{"name"}, "values": values}}
		}
		reply(http.StatusOK, map[string]any{"results": []any{res}})
	case r.Method == http.MethodPost && r.URL.Path == "/query" && strings.HasPrefix(q.Get("q"), "CREATE DATABASE "):
		f.dbs[strings.Trim(strings.TrimPrefix(q.Get("q"), "CREATE DATABASE "), `"`)] = true
		reply(http.StatusOK, map[string]any{"results": []any{map[string]any{"statement_id": 0}}})
	default:
		reply(http.StatusNotFound, map[string]any{"code": "not found", "message": "path not found"})
	}
}

// requests returns the requests received so far.
func (f *fakeInflux) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

// writes returns the write requests (POST to path) received so far.
func (f *fakeInflux) writes(path string) []fakeRequest {
	var out []fakeRequest
	for _, r := range f.requests() {
		if r.Method == http.MethodPost && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// pointsOf returns the points (lines, each with its newline) of agent
// address addr in the bodies of the write requests to path, in the order
// they were received.
func (f *fakeInflux) pointsOf(path, addr string) []string {
	var out []string
	for _, r := range f.writes(path) {
		for _, p := range splitPoints(r.Body) {
			if strings.HasPrefix(p, addr+",") {
				out = append(out, p)
			}
		}
	}
	return out
}

// splitPoints splits a line-protocol body into its points. A string field
// may hold a newline, so a point starts only at the beginning of the body
// or after a newline followed by a measurement of this test's realm.
func splitPoints(body []byte) []string {
	var out []string
	start := 0
	for i := 1; i <= len(body); i++ {
		if i == len(body) || body[i-1] == '\n' && bytes.HasPrefix(body[i:], []byte(testRoot+".")) {
			out = append(out, string(body[start:i]))
			start = i
		}
	}
	return out
}

// TestV2VictoriaMetrics: an InfluxDBAgentv2 with --no-create-database
// (VictoriaMetrics has no bucket API) and its target from the INFLUXDB_V2_*
// variables writes the feeds Go agents publish through the router to a
// real VictoriaMetrics through /api/v2/write, in the OCS schema:
// measurement = agent address and tag feed = feed name, so one series
// <agent address>_<field> with label feed per field. Values and timestamps
// (at millisecond precision, which is what VictoriaMetrics keeps) are those
// published; no db label (which /write?db= would add) shows the v2 API
// was used. The agent's stats feed lands too.
func TestV2VictoriaMetrics(t *testing.T) {
	t.Parallel()
	vm := vmtest.Start(t)
	r := startRouter(t)
	src := startSource(t, r)
	const feed = "vmtemps"
	vsrc := startFeedsAgent(t, r, "vmsrc", feed)["vmtemps"]
	const vsrcAddr = testRoot + ".vmsrc"
	opts := v2TestOptions("record")
	opts.NoCreateDatabase = true
	env := v2Env(vm.URL(), "feeds", "vm-token")
	ia := startInflux(t, r, opts, "", env.lookup)
	waitSubscribed(t, ia, src)
	ia.waitRecording(t)

	// One sample per block and a multi-sample block; times with
	// sub-millisecond parts, which VictoriaMetrics truncates.
	const n = 12
	times := make([]float64, n)
	for i := range times {
		times[i] = 1795294463.123456 + float64(i)*1.000321
	}
	value := func(i int) map[string]any {
		return map[string]any{
			"seq":  int64(i),
			"neg":  -int64(i) * 1000,
			"f":    float64(i) + 0.125,
			"flag": i%2 == 0,
			"num":  fmt.Sprintf("%d.5", i), // a string VictoriaMetrics parses as a number
			"word": `say "hi", a=b\c`,      // any other string is stored as 0
		}
	}
	for i := 0; i < n/2; i++ {
		if err := vsrc.PublishSample("b", times[i], value(i)); err != nil {
			t.Fatal(err)
		}
	}
	block := map[string]any{}
	for i := n / 2; i < n; i++ {
		for k, v := range value(i) {
			l, _ := block[k].([]any)
			block[k] = append(l, v)
		}
	}
	if err := vsrc.PublishBlock("b", times[n/2:], block); err != nil {
		t.Fatal(err)
	}

	// Expected: one series per field, labels __name__ and feed only.
	want := map[string]*vmtest.Series{}
	for i := 0; i < n; i++ {
		v := value(i)
		num := map[string]float64{
			"seq": float64(i), "neg": -float64(i) * 1000, "f": float64(i) + 0.125,
			"flag": 0, "num": float64(i) + 0.5, "word": 0,
		}
		if v["flag"] == true {
			num["flag"] = 1
		}
		ms := int64(times[i]*1e9) / 1e6 // the agent's int(t*1e9), truncated to ms
		for field, x := range num {
			name := vsrcAddr + "_" + field
			s := want[name]
			if s == nil {
				s = &vmtest.Series{Metric: map[string]string{"__name__": name, "feed": feed}}
				want[name] = s
			}
			s.Values = append(s.Values, x)
			s.Timestamps = append(s.Timestamps, ms)
		}
	}
	var wantList []vmtest.Series
	for _, name := range slices.Sorted(maps.Keys(want)) {
		wantList = append(wantList, *want[name])
	}

	match := fmt.Sprintf(`{feed=%q}`, feed)
	var got []vmtest.Series
	waitFor(t, 20*time.Second, "the points in VictoriaMetrics", func() bool {
		if err := vm.FlushErr(t.Context()); err != nil {
			return false
		}
		var err error
		if got, err = vm.ExportErr(t.Context(), match); err != nil {
			return false
		}
		total := 0
		for _, s := range got {
			total += len(s.Values)
		}
		if total > n*len(want) {
			t.Fatalf("%d samples in VictoriaMetrics, want %d:%s", total, n*len(want), dumpSeries(got))
		}
		return total == n*len(want)
	})
	if !reflect.DeepEqual(got, wantList) {
		t.Errorf("VictoriaMetrics %s:\n got%s\nwant%s\nvictoria-metrics output:\n%s", match, dumpSeries(got), dumpSeries(wantList), vm.Output())
	}

	// The stats feed of the agent, measurement = its address.
	waitFor(t, 10*time.Second, "the stats feed in VictoriaMetrics", func() bool {
		if err := vm.FlushErr(t.Context()); err != nil {
			return false
		}
		ss, err := vm.ExportErr(t.Context(), fmt.Sprintf(`{__name__=%q, feed=%q}`, influxAddr+"_points_written", influxdb.StatsFeed))
		return err == nil && len(ss) == 1 && len(ss[0].Values) > 0
	})
	d := ia.sessionData(t)
	if d["connected"] != true || d["degraded_reason"] != "" {
		t.Errorf("session data connected %v degraded_reason %q", d["connected"], d["degraded_reason"])
	}
	if _, ok := d["outputs"]; ok {
		t.Errorf("session data has outputs %v without --output", d["outputs"])
	}
}

func dumpSeries(ss []vmtest.Series) string {
	var b strings.Builder
	for _, s := range ss {
		m, _ := json.Marshal(s.Metric)
		fmt.Fprintf(&b, "\n  %s %v %v", m, s.Values, s.Timestamps)
	}
	return b.String()
}

// TestV2LineProtocolMatchesV1: the same published messages reach an
// InfluxDB 1.x /write endpoint through an InfluxDBAgent and InfluxDB 2.x
// /api/v2/write endpoints through InfluxDBAgentv2s as the same line
// protocol, byte for byte (every value type and escape of the e2e
// samples). The v2 writes carry org, bucket and precision=ns and
// "Authorization: Token <token>", the token from INFLUXDB_V2_TOKEN or read
// from INFLUXDB_V2_TOKEN_FILE. At record start a missing bucket is looked
// up (GET /api/v2/buckets?name=&org=), its org's ID fetched (GET
// /api/v2/orgs?org=) and the bucket created (POST /api/v2/buckets with
// orgID and name); an existing one is not created again, and with
// --no-create-database none of this is asked.
func TestV2LineProtocolMatchesV1(t *testing.T) {
	t.Parallel()
	r := startRouter(t)
	src := startSource(t, r)
	f1, f2, f3, f4 := startFakeInflux(t), startFakeInflux(t), startFakeInflux(t), startFakeInflux(t)

	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env3 := v2Env(f3.URL()+"/", "feeds", "")
	env3.unset(influxdb.EnvV2Token)
	env3.set(influxdb.EnvV2TokenFile, tokenFile)
	noCreate := v2TestOptions("record")
	noCreate.NoCreateDatabase = true

	v1 := startInflux(t, r, testOptions(f1.URL(), "lpdb", "record"), "lpv1", nil)
	v2 := startInflux(t, r, v2TestOptions("record"), "lpv2", v2Env(f2.URL(), "feeds", "tok-env").lookup)
	v2file := startInflux(t, r, v2TestOptions("record"), "lpv2file", env3.lookup)
	v2nc := startInflux(t, r, noCreate, "lpv2nc", v2Env(f4.URL(), "feeds", "tok-nc").lookup)
	all := []*influxAgent{v1, v2, v2file, v2nc}
	for _, ia := range all {
		waitSubscribed(t, ia, src)
		ia.waitRecording(t)
	}

	want := samples(1, 20)
	src.publish(t, want[:10]...)
	if err := src.temps.PublishBlock("b2", []float64{1795294500.5, 1795294501.75}, map[string]any{
		"seq": []any{int64(100), int64(101)}, "s": []any{"tab\there", `back\slash "q"`}, "two": []any{2.0, 2.5}}); err != nil {
		t.Fatal(err)
	}
	src.publish(t, want[10:]...)
	const nPoints = 22
	fakes := []struct {
		name string
		f    *fakeInflux
		path string
	}{{"v1", f1, "/write"}, {"v2", f2, "/api/v2/write"}, {"v2 token file", f3, "/api/v2/write"}, {"v2 no create", f4, "/api/v2/write"}}
	for _, fk := range fakes {
		waitFor(t, 10*time.Second, fk.name+": the points written", func() bool {
			n := len(fk.f.pointsOf(fk.path, srcAddr))
			if n > nPoints {
				t.Fatalf("%s: %d points written, want %d", fk.name, n, nPoints)
			}
			return n == nPoints
		})
	}
	ref := strings.Join(f1.pointsOf("/write", srcAddr), "")
	if !strings.HasPrefix(ref, srcAddr+",feed=temps ") || !strings.Contains(ref, `\"`) || !strings.Contains(ref, "a\nnl") {
		t.Fatalf("v1 line protocol is not what the test expects:\n%s", ref)
	}
	for _, fk := range fakes[1:] {
		if got := strings.Join(fk.f.pointsOf(fk.path, srcAddr), ""); got != ref {
			t.Errorf("%s line protocol differs from v1:\n got %q\nwant %q", fk.name, got, ref)
		}
	}

	// The v1 writes: /write?db=&precision=ns with root/root.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("root:root"))
	for _, w := range f1.writes("/write") {
		if want := (url.Values{"db": {"lpdb"}, "precision": {"ns"}}); !reflect.DeepEqual(w.Query, want) || w.Auth != basic {
			t.Errorf("v1 write %v, want query %v and auth %q", w, want, basic)
		}
	}

	// The v2 exchanges.
	for _, tc := range []struct {
		name    string
		f       *fakeInflux
		token   string
		creates bool
	}{{"v2", f2, "tok-env", true}, {"v2 token file", f3, "tok-from-file", true}, {"v2 no create", f4, "tok-nc", false}} {
		reqs := tc.f.requests()
		var setup, writes []fakeRequest
		for _, q := range reqs {
			if q.Auth != "Token "+tc.token {
				t.Errorf("%s: %v: want Authorization %q", tc.name, q, "Token "+tc.token)
			}
			switch {
			case q.Method == http.MethodPost && q.Path == "/api/v2/write":
				writes = append(writes, q)
			case len(writes) > 0:
				t.Errorf("%s: %v after the first write", tc.name, q)
			default:
				setup = append(setup, q)
			}
		}
		wantQuery := url.Values{"org": {"ocs"}, "bucket": {"feeds"}, "precision": {"ns"}}
		for _, w := range writes {
			if !reflect.DeepEqual(w.Query, wantQuery) {
				t.Errorf("%s: write %v, want query %v", tc.name, w, wantQuery)
			}
		}
		if !tc.creates {
			if len(setup) != 0 {
				t.Errorf("%s: requests before the first write %v, want none with --no-create-database", tc.name, setup)
			}
			continue
		}
		checkBucketCreated(t, tc.name, tc.f, setup)
	}

	// Started again, v2 finds its bucket and does not create it again.
	before := len(f2.requests())
	expect(t, "stop v2", v2.ops(t, "stop", nil, nil), ocsclient.OK, `Requested stop on process record".`)
	expect(t, "wait v2", v2.ops(t, "wait", nil, ptr(10.0)), ocsclient.OK,
		`Operation "record" is currently not running (SUCCEEDED).`)
	expect(t, "start v2", v2.ops(t, "start", nil, nil), ocsclient.OK, `Started process "record".`)
	v2.waitRecording(t)
	var setup []string
	for _, q := range f2.requests()[before:] {
		if q.Path != "/api/v2/write" {
			setup = append(setup, setupCall(q))
		}
	}
	if want := []string{"GET /api/v2/buckets?name=feeds"}; !slices.Equal(setup, want) {
		t.Errorf("v2 second start: requests %q, want %q", setup, want)
	}
}

// setupCall describes a request made at record start: method, path and
// query, without the bucket lookup's optional org= (the Python v2 agent
// looks the bucket up by name only).
func setupCall(q fakeRequest) string {
	v := maps.Clone(q.Query)
	if q.Path == "/api/v2/buckets" && q.Method == http.MethodGet && slices.Equal(v["org"], []string{"ocs"}) {
		delete(v, "org")
	}
	return q.Method + " " + q.Path + "?" + v.Encode()
}

// checkBucketCreated checks the requests a v2 agent made before its first
// write: the bucket looked up, missing, so its org looked up and the
// bucket created in it.
func checkBucketCreated(t *testing.T, name string, f *fakeInflux, setup []fakeRequest) {
	t.Helper()
	var got []string
	for _, q := range setup {
		got = append(got, setupCall(q))
	}
	want := []string{"GET /api/v2/buckets?name=feeds", "GET /api/v2/orgs?org=ocs", "POST /api/v2/buckets?"}
	if !slices.Equal(got, want) {
		t.Errorf("%s: requests before the first write %q, want %q", name, got, want)
		return
	}
	var body map[string]any
	if err := json.Unmarshal(setup[2].Body, &body); err != nil {
		t.Fatalf("%s: POST /api/v2/buckets body %q: %v", name, setup[2].Body, err)
	}
	if body["orgID"] != f.orgID || body["name"] != "feeds" {
		t.Errorf("%s: POST /api/v2/buckets body %s, want orgID %q and name feeds", name, setup[2].Body, f.orgID)
	}
}

// TestV2RecordReplies: with InfluxDBAgentv2, record's replies while
// recording and to a stop, and the keys of its session data, are those of
// InfluxDBAgent (connected, last_updated, the counters...; a stop ends with
// success true and "Aggregation has ended"); get_api names the class
// InfluxDBAgentv2. The INFLUXDB_V2_* variables are read at each start:
// with INFLUXDB_V2_BUCKET unset (or empty) record ends at once with
// success false and a message naming INFLUXDB_V2_BUCKET, and once it is
// set again record runs.
func TestV2RecordReplies(t *testing.T) {
	t.Parallel()
	r := startRouter(t)
	src := startSource(t, r)
	f1, f2 := startFakeInflux(t), startFakeInflux(t)
	env := v2Env(f2.URL(), "replies", "tok")
	v1 := startInflux(t, r, testOptions(f1.URL(), "replies", "record"), "rpv1", nil)
	v2 := startInflux(t, r, v2TestOptions("record"), "rpv2", env.lookup)

	api, err := v2.w.GetAPI(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if api["agent_class"] != influxdb.AgentClassV2 {
		t.Errorf("get_api agent_class %v, want %s", api["agent_class"], influxdb.AgentClassV2)
	}

	keys := map[string][]string{}
	for _, tc := range []struct {
		name string
		ia   *influxAgent
	}{{"v1", v1}, {"v2", v2}} {
		ia := tc.ia
		waitSubscribed(t, ia, src)
		ia.waitRecording(t)
		src.publish(t, samples(1, 2)...)
		sess := ia.waitSession(t, "points written", 10*time.Second, func(s map[string]any) bool {
			d, _ := s["data"].(map[string]any)
			fs, _ := d["feeds"].(map[string]any)
			a, _ := fs[srcAddr].(map[string]any)
			temps, _ := a["temps"].(map[string]any)
			n, _ := asInt(temps["points_written"])
			return n >= 2
		})
		rep := expect(t, tc.name+" status", ia.ops(t, "status", nil, nil), ocsclient.OK, "Session active.")
		checkSession(t, tc.name+" status", rep.Session, "running", 3, nil, []string{stStarting, stRunning})
		d, _ := sess["data"].(map[string]any)
		checkSessionData(t, d)
		keys[tc.name+" running"] = slices.Sorted(maps.Keys(d))

		rep = expect(t, tc.name+" stop", ia.ops(t, "stop", nil, nil), ocsclient.OK, `Requested stop on process record".`)
		checkSession(t, tc.name+" stop", rep.Session, "running", 3, nil, []string{stStarting, stRunning})
		rep = expect(t, tc.name+" wait", ia.ops(t, "wait", nil, ptr(10.0)), ocsclient.OK,
			`Operation "record" is currently not running (SUCCEEDED).`)
		checkSession(t, tc.name+" wait", rep.Session, "done", 5, true,
			[]string{stStarting, stRunning, stStopping, influxdb.MsgEnded, stDone})
		d, _ = rep.Session["data"].(map[string]any)
		if d["connected"] != true {
			t.Errorf("%s: data after stop %v", tc.name, d)
		}
		keys[tc.name+" stopped"] = slices.Sorted(maps.Keys(d))
	}
	for _, state := range []string{"running", "stopped"} {
		if k1, k2 := keys["v1 "+state], keys["v2 "+state]; !slices.Equal(k1, k2) {
			t.Errorf("session data keys %s:\n v1 %q\n v2 %q", state, k1, k2)
		}
	}

	// INFLUXDB_V2_BUCKET unset, then empty: record ends at once.
	for _, step := range []struct {
		name string
		set  func()
	}{
		{"unset", func() { env.unset(influxdb.EnvV2Bucket) }},
		{"empty", func() { env.set(influxdb.EnvV2Bucket, "") }},
	} {
		step.set()
		expect(t, "start with the bucket "+step.name, v2.ops(t, "start", nil, nil), ocsclient.OK, `Started process "record".`)
		rep := expect(t, "wait with the bucket "+step.name, v2.ops(t, "wait", nil, ptr(10.0)), ocsclient.OK,
			`Operation "record" is currently not running (FAILED).`)
		if rep.Session["success"] != false || rep.Session["status"] != "done" {
			t.Errorf("bucket %s: session %v, want done with success false", step.name, rep.Session)
		}
		msgs := messageTexts(rep.Session)
		if len(msgs) != 4 || msgs[0] != stStarting || msgs[1] != stRunning || msgs[3] != stDone ||
			!strings.Contains(msgs[2], influxdb.EnvV2Bucket) {
			t.Errorf("bucket %s: messages %q, want one naming %s", step.name, msgs, influxdb.EnvV2Bucket)
		}
	}

	// Set again: the next start reads it and records.
	env.set(influxdb.EnvV2Bucket, "replies")
	expect(t, "start with the bucket set", v2.ops(t, "start", nil, nil), ocsclient.OK, `Started process "record".`)
	v2.waitRecording(t)
}
