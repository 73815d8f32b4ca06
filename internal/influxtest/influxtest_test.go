package influxtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/ocsflux/ocsflux/internal/influxtest"
)

// TestSmoke proves the harness gives a real, working InfluxDB: create a
// database, POST a gzip line-protocol body, query it back with types.
func TestSmoke(t *testing.T) {
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "smoke")

	lines := "observatory.fake-data1,feed=false_temperatures channel_00=0.1,count=3i,ok=true,mode=\"a \\\"b\\\"\" 1700000000500000000\n"
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	if _, err := zw.Write([]byte(lines)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/write?db=smoke&precision=ns", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("gzip write: HTTP %d: %s", resp.StatusCode, msg)
	}

	rows := srv.QueryRows(t, "smoke", `SELECT * FROM "observatory.fake-data1"`)
	if len(rows) != 1 || len(rows[0].Values) != 1 {
		t.Fatalf("rows = %+v, want one series with one point", rows)
	}
	got := map[string]any{}
	for i, c := range rows[0].Columns {
		got[c] = rows[0].Values[0][i]
	}
	want := map[string]any{
		"time":       "2023-11-14T22:13:20.5Z",
		"channel_00": json.Number("0.1"),
		"count":      json.Number("3"),
		"ok":         true,
		"mode":       `a "b"`,
		"feed":       "false_temperatures",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}

	types := map[string]string{}
	for _, v := range srv.Query(t, "smoke", `SHOW FIELD KEYS FROM "observatory.fake-data1"`) {
		types[v[0].(string)] = v[1].(string)
	}
	wantTypes := map[string]string{"channel_00": "float", "count": "integer", "ok": "boolean", "mode": "string"}
	for k, v := range wantTypes {
		if types[k] != v {
			t.Errorf("field %s type %q, want %q", k, types[k], v)
		}
	}
}

// TestRestartKeepsData checks Kill/Resume: the data survives and the URL
// stays the same, which the outage tests depend on.
func TestRestartKeepsData(t *testing.T) {
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "r")
	srv.Write(t, "r", "m,feed=f x=1 1\n")
	url := srv.URL
	srv.Kill()
	if _, err := http.Get(url + "/ping"); err == nil {
		t.Fatalf("influxd still answers after Kill")
	}
	if err := srv.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	if srv.URL != url {
		t.Errorf("URL changed across restart: %s → %s", url, srv.URL)
	}
	if n := len(srv.Query(t, "r", "SELECT * FROM m")); n != 1 {
		t.Errorf("after restart %d points, want 1", n)
	}
}

// TestAuth checks that an auth-enabled server refuses anonymous queries and
// accepts the admin created by the harness.
func TestAuth(t *testing.T) {
	srv := influxtest.StartOpts(t, influxtest.Options{Auth: true})
	resp, err := http.Get(srv.URL + "/query?q=SHOW+DATABASES")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous query: HTTP %d, want 401", resp.StatusCode)
	}
	srv.CreateDatabase(t, "authdb")
	found := false
	for _, v := range srv.Query(t, "", "SHOW DATABASES") {
		found = found || v[0] == "authdb"
	}
	if !found {
		t.Errorf("authdb not listed after CREATE DATABASE with admin credentials")
	}
}
