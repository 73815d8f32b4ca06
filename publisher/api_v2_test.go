package publisher_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// fakeV2 is a real HTTP server speaking enough of InfluxDB 2.x's API: the
// bucket lookup (GET /api/v2/buckets?name=[&org=]), the org lookup (GET
// /api/v2/orgs?org=), bucket creation (POST /api/v2/buckets) and writes
// (POST /api/v2/write?org=&bucket=&precision=, 204), every request
// authenticated with "Authorization: Token <token>".
type fakeV2 struct {
	t                  *testing.T
	srv                *httptest.Server
	org, orgID, bucket string
	token              string
	deny               atomic.Bool // answer 401 to every request

	mu      sync.Mutex
	reqs    []request
	buckets []string         // existing buckets of org
	created []map[string]any // bodies of POST /api/v2/buckets
	bodies  []string         // bodies of the writes answered 204
}

// v2Org, v2Bucket and v2Token are the fake's target; the names need
// escaping in a query.
const (
	v2Org    = "obs org"
	v2Bucket = "ocs/feeds"
	v2Token  = "s3cret-t0ken"
)

func newFakeV2(t *testing.T, buckets ...string) *fakeV2 {
	f := &fakeV2{t: t, org: v2Org, orgID: "abc", bucket: v2Bucket, token: v2Token, buckets: buckets}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func v2JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeV2) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("read body: %v", err)
		return
	}
	q := r.URL.Query()
	f.mu.Lock()
	f.reqs = append(f.reqs, request{Method: r.Method, Path: r.URL.Path, Query: q, Header: r.Header.Clone(),
		Body: string(body), At: time.Now()})
	f.mu.Unlock()
	if f.deny.Load() || r.Header.Get("Authorization") != "Token "+f.token {
		v2JSON(w, http.StatusUnauthorized, map[string]string{"code": "unauthorized", "message": "unauthorized access"})
		return
	}
	orgNotFound := map[string]string{"code": "not found", "message": "organization name \"" + q.Get("org") + "\" not found"}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v2/buckets":
		if q.Has("org") && q.Get("org") != f.org {
			v2JSON(w, http.StatusNotFound, orgNotFound)
			return
		}
		list := []map[string]any{}
		f.mu.Lock()
		for _, b := range f.buckets {
			if q.Get("name") == "" || q.Get("name") == b {
				list = append(list, map[string]any{"id": "id-" + b, "orgID": f.orgID, "name": b, "retentionRules": []any{}})
			}
		}
		f.mu.Unlock()
		v2JSON(w, http.StatusOK, map[string]any{"links": map[string]string{"self": "/api/v2/buckets"}, "buckets": list})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v2/orgs":
		if q.Get("org") != f.org {
			v2JSON(w, http.StatusNotFound, orgNotFound)
			return
		}
		v2JSON(w, http.StatusOK, map[string]any{"orgs": []map[string]any{{"id": f.orgID, "name": f.org}}})
	case r.Method == http.MethodPost && r.URL.Path == "/api/v2/buckets":
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			f.t.Errorf("POST /api/v2/buckets: %v: %q", err, body)
			v2JSON(w, http.StatusBadRequest, map[string]string{"code": "invalid", "message": err.Error()})
			return
		}
		name, _ := m["name"].(string)
		f.mu.Lock()
		f.created = append(f.created, m)
		if m["orgID"] == f.orgID && name != "" {
			f.buckets = append(f.buckets, name)
		}
		f.mu.Unlock()
		v2JSON(w, http.StatusCreated, map[string]any{"id": "id-" + name, "orgID": m["orgID"], "name": name})
	case r.Method == http.MethodPost && r.URL.Path == "/api/v2/write":
		f.mu.Lock()
		found := q.Get("org") == f.org && slices.Contains(f.buckets, q.Get("bucket"))
		if found {
			f.bodies = append(f.bodies, string(body))
		}
		f.mu.Unlock()
		if !found {
			v2JSON(w, http.StatusNotFound, map[string]string{"code": "not found",
				"message": "bucket \"" + q.Get("bucket") + "\" not found"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		f.t.Errorf("fake v2: unexpected request %s %s", r.Method, r.URL)
		v2JSON(w, http.StatusNotFound, map[string]string{"code": "not found", "message": "path not found"})
	}
}

func (f *fakeV2) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

// written is the concatenation of the bodies of the writes answered 204.
func (f *fakeV2) written() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.bodies, "")
}

func (f *fakeV2) createdBuckets() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.created)
}

// v2Config is testConfig (its short intervals) for an APIv2 output
// writing to f.
func v2Config(f *fakeV2) publisher.Config {
	cfg := testConfig(&fakeInflux{srv: f.srv})
	cfg.API = publisher.APIv2
	cfg.Org, cfg.Bucket = f.org, f.bucket
	cfg.Credentials = publisher.Credentials{Token: f.token}
	return cfg
}

// v2Messages are messages with the values and names the encoder must
// escape, several points each.
func v2Messages(t *testing.T) []*feeds.Message {
	m, _ := workedExample(t)
	return []*feeds.Message{
		m,
		msg("obs.acu 1", "feed,one", []float64{1700000000.25, 1700000000.5},
			field("az", feeds.Float(12.5), feeds.Float(-0.1)),
			field("mode", feeds.String(`say "hi"\`), feeds.String("a=b c")),
			field("on", feeds.Bool(true), feeds.Bool(false))),
		msg("obs.b", "f", []float64{1, 2, 3}, field("n", feeds.Int(1), feeds.Int(-2), feeds.Int(3))),
	}
}

// v2WriteQuery is the exact query of an APIv2 write.
var v2WriteQuery = url.Values{"org": {v2Org}, "bucket": {v2Bucket}, "precision": {"ns"}}

// TestV2WriteMatchesV1: the same messages written through an APIv1 output
// and an APIv2 output give byte-identical bodies; the v2 writes go to
// /api/v2/write with exactly org, bucket and precision=ns, and the token.
func TestV2WriteMatchesV1(t *testing.T) {
	f1 := newFake(t, false)
	f1.databases = []string{publisher.DefaultDatabase}
	r1 := start(t, testConfig(f1))
	f2 := newFakeV2(t, v2Bucket)
	r2 := start(t, v2Config(f2))

	var want []byte
	var enc publisher.Encoder
	lines := 0
	for _, m := range v2Messages(t) {
		var n int
		want, n = enc.AppendMessage(want, m)
		lines += n
		if !r1.Enqueue(m) || !r2.Enqueue(m) {
			t.Fatal("Enqueue refused")
		}
	}
	if lines != 8 {
		t.Fatalf("%d lines encoded, want 8", lines)
	}
	waitFor(t, "both outputs' writes", func() bool {
		return r1.Stats().Written == uint64(lines) && r2.Stats().Written == uint64(lines)
	})
	if err := r1.stop(t); err != nil {
		t.Fatalf("v1 Run: %v", err)
	}
	if err := r2.stop(t); err != nil {
		t.Fatalf("v2 Run: %v", err)
	}

	v1, v2 := f1.writtenBody(), f2.written()
	if v1 != string(want) {
		t.Errorf("v1 body\n got: %q\nwant: %q", v1, want)
	}
	if v2 != v1 {
		t.Errorf("v2 body differs from v1's\n v2: %q\n v1: %q", v2, v1)
	}

	reqs := f2.requests()
	if len(reqs) < 2 {
		t.Fatalf("%d requests to the v2 server: %+v", len(reqs), reqs)
	}
	lookup := reqs[0]
	if lookup.Method != http.MethodGet || lookup.Path != "/api/v2/buckets" ||
		!reflect.DeepEqual(lookup.Query, url.Values{"name": {v2Bucket}}) {
		t.Errorf("first request %s %s %v, want the bucket lookup", lookup.Method, lookup.Path, lookup.Query)
	}
	for _, rq := range reqs[1:] {
		if rq.Method != http.MethodPost || rq.Path != "/api/v2/write" {
			t.Errorf("request %s %s, want only writes after the lookup (the bucket exists)", rq.Method, rq.Path)
			continue
		}
		if !reflect.DeepEqual(rq.Query, v2WriteQuery) {
			t.Errorf("write query %v, want exactly %v", rq.Query, v2WriteQuery)
		}
		if got := rq.Header.Get("Content-Type"); got != "application/octet-stream" {
			t.Errorf("write Content-Type %q", got)
		}
	}
	for _, rq := range reqs {
		if got := rq.Header.Get("Authorization"); got != "Token "+v2Token {
			t.Errorf("%s %s: Authorization %q, want %q", rq.Method, rq.Path, got, "Token "+v2Token)
		}
	}
	for _, rq := range f1.requests() {
		if strings.HasPrefix(rq.Path, "/api/v2/") {
			t.Errorf("v1 output sent %s %s", rq.Method, rq.Path)
		}
	}
	st := r2.Stats()
	if !st.Connected || st.Degraded != "" || st.FailedWrites != 0 || st.Written != uint64(lines) || st.PendingPoints != 0 {
		t.Errorf("v2 stats %+v", st)
	}
}

// TestV2BucketCreated: a missing bucket is created in the org looked up by
// name, with infinite retention, before Connected is closed; an existing
// one is not.
func TestV2BucketCreated(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		f := newFakeV2(t, "other")
		r := start(t, v2Config(f))
		waitConnected(t, r)
		created := f.createdBuckets()
		want := map[string]any{"orgID": "abc", "name": v2Bucket, "retentionRules": []any{}}
		if len(created) != 1 || !reflect.DeepEqual(created[0], want) {
			t.Errorf("POST /api/v2/buckets bodies %v, want one: %v", created, want)
		}
		reqs := f.requests()
		type call struct{ method, path string }
		var got []call
		for _, rq := range reqs {
			got = append(got, call{rq.Method, rq.Path})
		}
		wantCalls := []call{{"GET", "/api/v2/buckets"}, {"GET", "/api/v2/orgs"}, {"POST", "/api/v2/buckets"}}
		if !reflect.DeepEqual(got, wantCalls) {
			t.Fatalf("start-up requests %v, want %v", got, wantCalls)
		}
		if !reflect.DeepEqual(reqs[0].Query, url.Values{"name": {v2Bucket}}) {
			t.Errorf("bucket lookup query %v", reqs[0].Query)
		}
		if !reflect.DeepEqual(reqs[1].Query, url.Values{"org": {v2Org}}) {
			t.Errorf("org lookup query %v", reqs[1].Query)
		}
		if ct := reqs[2].Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("bucket creation Content-Type %q", ct)
		}

		m := msg("obs.a", "f", []float64{1, 2}, field("x", feeds.Int(1), feeds.Int(2)))
		r.Enqueue(m)
		waitFor(t, "the write", func() bool { return r.Stats().Written == 2 })
		var enc publisher.Encoder
		want2, _ := enc.AppendMessage(nil, m)
		if got := f.written(); got != string(want2) {
			t.Errorf("written %q, want %q", got, want2)
		}
		for _, rq := range f.requests()[3:] {
			if rq.Path != "/api/v2/write" || !reflect.DeepEqual(rq.Query, v2WriteQuery) {
				t.Errorf("after creation: %s %s %v, want writes to the bucket", rq.Method, rq.Path, rq.Query)
			}
		}
		if !strings.Contains(r.logs.String(), `created the bucket \"ocs/feeds\"`) {
			t.Errorf("creation not logged:\n%s", r.logs.String())
		}
	})
	t.Run("found", func(t *testing.T) {
		f := newFakeV2(t, "other", v2Bucket)
		r := start(t, v2Config(f))
		waitConnected(t, r)
		r.Enqueue(msg("obs.a", "f", []float64{1}, field("x", feeds.Int(1))))
		waitFor(t, "the write", func() bool { return r.Stats().Written == 1 })
		if c := f.createdBuckets(); len(c) != 0 {
			t.Errorf("bucket created although it exists: %v", c)
		}
		for i, rq := range f.requests() {
			want := "/api/v2/write"
			if i == 0 {
				want = "/api/v2/buckets"
			}
			if rq.Path != want || (i == 0) != (rq.Method == http.MethodGet) {
				t.Errorf("request %d: %s %s, want the lookup then writes only", i, rq.Method, rq.Path)
			}
		}
	})
}

// TestV2AuthFailed: a 401 to the bucket lookup makes the output degraded
// with "authentication failed" and not connected, the data enqueued
// meanwhile is kept; once the token is accepted it connects and writes.
func TestV2AuthFailed(t *testing.T) {
	f := newFakeV2(t, v2Bucket)
	f.deny.Store(true)
	r := start(t, v2Config(f))
	m := msg("obs.a", "f", []float64{1, 2, 3}, field("x", feeds.Int(1), feeds.Int(2), feeds.Int(3)))
	r.Enqueue(m)
	waitFor(t, "two refused lookups", func() bool { return len(f.requests()) >= 2 })
	st := r.Stats()
	if want := "authentication failed (HTTP 401): unauthorized access"; st.Degraded != want || st.Connected || st.Written != 0 {
		t.Errorf("while refused: Degraded %q (want %q), Connected %v, Written %d", st.Degraded, want, st.Connected, st.Written)
	}
	select {
	case <-r.Connected():
		t.Fatal("Connected closed although the lookup was refused")
	default:
	}
	for _, rq := range f.requests() {
		if rq.Path != "/api/v2/buckets" {
			t.Errorf("%s %s before the lookup succeeded", rq.Method, rq.Path)
		}
	}
	if strings.Contains(r.logs.String(), v2Token) || strings.Contains(st.Degraded, v2Token) {
		t.Errorf("token in the logs or the degraded reason")
	}

	f.deny.Store(false)
	waitConnected(t, r)
	waitFor(t, "the kept points", func() bool { return r.Stats().Written == 3 })
	st = r.Stats()
	if !st.Connected || st.Degraded != "" {
		t.Errorf("after the token was accepted: Connected %v, Degraded %q", st.Connected, st.Degraded)
	}
	var enc publisher.Encoder
	want, _ := enc.AppendMessage(nil, m)
	if got := f.written(); got != string(want) {
		t.Errorf("written %q, want %q", got, want)
	}
}

// TestNoCreate: with NoCreate no database or bucket is looked up or
// created: the only requests are the writes.
func TestNoCreate(t *testing.T) {
	m := msg("obs.a", "f", []float64{1, 2}, field("x", feeds.Int(1), feeds.Int(2)))
	var enc publisher.Encoder
	want, _ := enc.AppendMessage(nil, m)
	// Each API's fake target: the config writing to it, its requests and
	// what it was written; and what a write request is.
	type target struct {
		cfg      publisher.Config
		requests func() []request
		written  func() string
	}
	for _, c := range []struct {
		api     string
		start   func(t *testing.T) target
		isWrite func(rq request) bool
	}{
		{
			"v1",
			func(t *testing.T) target {
				f := newFake(t, false)
				return target{testConfig(f), f.requests, f.writtenBody}
			},
			func(rq request) bool { return rq.Method == http.MethodPost && rq.Path == "/write" },
		},
		{
			"v2",
			func(t *testing.T) target {
				f := newFakeV2(t, v2Bucket)
				return target{v2Config(f), f.requests, f.written}
			},
			func(rq request) bool {
				return rq.Method == http.MethodPost && rq.Path == "/api/v2/write" && reflect.DeepEqual(rq.Query, v2WriteQuery)
			},
		},
	} {
		t.Run(c.api, func(t *testing.T) {
			f := c.start(t)
			f.cfg.NoCreate = true
			r := start(t, f.cfg)
			waitConnected(t, r)
			r.Enqueue(m)
			waitFor(t, "the write", func() bool { return r.Stats().Written == 2 })
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			reqs := f.requests()
			if len(reqs) == 0 {
				t.Fatal("no request")
			}
			for _, rq := range reqs {
				if !c.isWrite(rq) {
					t.Errorf("request %s %s %v, want writes only", rq.Method, rq.Path, rq.Query)
				}
			}
			if got := f.written(); got != string(want) {
				t.Errorf("written %q, want %q", got, want)
			}
		})
	}
}
