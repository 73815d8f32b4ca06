package publisher_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// workedExample is the §7.9 event and the body Python writes for it.
func workedExample(t *testing.T) (*feeds.Message, string) {
	m := loadEvent(t, "testdata/golden/worked_example/event.json")
	want, err := os.ReadFile("testdata/golden/worked_example/line.lp")
	if err != nil {
		t.Fatal(err)
	}
	return m, string(want)
}

// TestWriterRequests checks the requests against a fake InfluxDB: database
// check and creation at start-up, then /write with the Python agent's
// headers and body, gzip on and off, Basic auth on every request.
func TestWriterRequests(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "gzip"}[gz], func(t *testing.T) {
			f := newFake(t, false)
			cfg := testConfig(f)
			cfg.Gzip = gz
			cfg.RetentionPolicy = "autogen"
			m, want := workedExample(t)
			r := start(t, cfg)
			if !r.Enqueue(m) {
				t.Fatal("Enqueue refused")
			}
			waitFor(t, "the write", func() bool { return r.Stats().Written == 3 })
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}

			reqs := f.requests()
			if len(reqs) != 3 {
				t.Fatalf("%d requests, want SHOW DATABASES, CREATE DATABASE, write: %+v", len(reqs), reqs)
			}
			if reqs[0].Method != "GET" || reqs[0].Path != "/query" || reqs[0].Query.Get("q") != "SHOW DATABASES" {
				t.Errorf("first request %s %s %v", reqs[0].Method, reqs[0].Path, reqs[0].Query)
			}
			if reqs[1].Method != "POST" || reqs[1].Query.Get("q") != `CREATE DATABASE "ocs_feeds"` {
				t.Errorf("second request %s %s %v", reqs[1].Method, reqs[1].Path, reqs[1].Query)
			}
			w := reqs[2]
			if w.Method != "POST" || w.Path != "/write" || w.Query.Get("db") != "ocs_feeds" ||
				w.Query.Get("precision") != "ns" || w.Query.Get("rp") != "autogen" {
				t.Errorf("write request %s %s %v", w.Method, w.Path, w.Query)
			}
			if w.Body != want {
				t.Errorf("body\n got: %q\nwant: %q", w.Body, want)
			}
			if got := w.Header.Get("Content-Type"); got != "application/octet-stream" {
				t.Errorf("Content-Type %q", got)
			}
			if got := w.Header.Get("Content-Encoding"); (got == "gzip") != gz {
				t.Errorf("Content-Encoding %q with gzip=%v", got, gz)
			}
			for _, rq := range reqs {
				if got := rq.Header.Get("Authorization"); got != "Basic cm9vdDpyb290" {
					t.Errorf("%s %s: Authorization %q, want Basic root:root", rq.Method, rq.Path, got)
				}
			}

			st := r.Stats()
			if !st.Connected || st.Degraded != "" || st.Batches != 1 || st.PendingPoints != 0 ||
				st.Received != 3 || st.BytesSent == 0 || st.LastWrite.IsZero() {
				t.Errorf("stats %+v", st)
			}
			if len(st.Feeds) != 1 || st.Feeds[0].Agent != "observatory.ls240" || st.Feeds[0].Feed != "temperatures" ||
				st.Feeds[0].Written != 3 || st.Feeds[0].LastWritten.IsZero() {
				t.Errorf("feed stats %+v", st.Feeds)
			}
		})
	}
}

// TestWriterToken: with a token, every request says "Authorization: Token".
func TestWriterToken(t *testing.T) {
	f := newFake(t, false)
	cfg := testConfig(f)
	cfg.Credentials = publisher.Credentials{Username: "root", Password: "root", Token: "my-token"}
	m, _ := workedExample(t)
	r := start(t, cfg)
	r.Enqueue(m)
	waitFor(t, "the write", func() bool { return r.Stats().Written == 3 })
	for _, rq := range f.requests() {
		if got := rq.Header.Get("Authorization"); got != "Token my-token" {
			t.Errorf("%s %s: Authorization %q", rq.Method, rq.Path, got)
		}
	}
}

// TestWriterExistingDatabase: no CREATE DATABASE when SHOW DATABASES lists it.
func TestWriterExistingDatabase(t *testing.T) {
	f := newFake(t, false)
	f.databases = []string{"_internal", "ocs_feeds"}
	r := start(t, testConfig(f))
	<-r.Connected()
	for _, rq := range f.requests() {
		if strings.HasPrefix(rq.Query.Get("q"), "CREATE") {
			t.Errorf("unexpected %s", rq.Query.Get("q"))
		}
	}
}

// TestWriterRetries: 500, timeouts and network errors keep the batch,
// which is written once InfluxDB answers; degraded in between.
func TestWriterRetries(t *testing.T) {
	f := newFake(t, false)
	release := make(chan struct{})
	f.script(func(n int, _ request) reply {
		switch n {
		case 0:
			return reply{Status: 500, Body: "timeout"}
		case 1:
			return reply{Hold: release} // slower than the client timeout
		case 2:
			return reply{Status: 503, Body: "engine: cache maximum memory size exceeded"}
		}
		return reply{}
	}, nil)
	cfg := testConfig(f)
	cfg.Timeout = 200 * time.Millisecond
	m, want := workedExample(t)
	r := start(t, cfg)
	r.Enqueue(m)
	waitFor(t, "degraded after the 500", func() bool {
		return strings.Contains(r.Stats().Degraded, "HTTP 500")
	})
	if st := r.Stats(); st.Connected || st.PendingPoints != 3 {
		t.Errorf("while failing: %+v", st)
	}
	waitFor(t, "the write", func() bool { return r.Stats().Written == 3 })
	close(release)
	st := r.Stats()
	if !st.Connected || st.Degraded != "" || st.FailedWrites != 3 || st.Batches != 1 || st.PendingPoints != 0 {
		t.Errorf("after recovery: %+v", st)
	}
	ws := f.writeRequests()
	if len(ws) != 4 {
		t.Fatalf("%d write requests, want 4", len(ws))
	}
	for _, w := range ws {
		if w.Body != want {
			t.Errorf("retried body differs: %q", w.Body)
		}
	}
	if !strings.Contains(r.logs.String(), "timeout") {
		t.Errorf("the client timeout was not logged")
	}
}

// TestWriterAuthFailure: 401 and 403 make the publisher degraded with
// "authentication failed", keep the data and write it once allowed.
func TestWriterAuthFailure(t *testing.T) {
	for _, status := range []int{401, 403} {
		t.Run(map[int]string{401: "401", 403: "403"}[status], func(t *testing.T) {
			f := newFake(t, false)
			allowed := make(chan struct{})
			f.script(func(n int, _ request) reply {
				select {
				case <-allowed:
					return reply{}
				default:
					return reply{Status: status, Body: "authorization failed"}
				}
			}, nil)
			cfg := testConfig(f)
			cfg.Credentials = publisher.Credentials{Username: "bob", Password: "hunter2"}
			m, _ := workedExample(t)
			r := start(t, cfg)
			r.Enqueue(m)
			waitFor(t, "degraded", func() bool {
				return strings.HasPrefix(r.Stats().Degraded, "authentication failed")
			})
			if st := r.Stats(); st.PendingPoints != 3 || st.Written != 0 {
				t.Errorf("data not kept: %+v", st)
			}
			close(allowed)
			waitFor(t, "the write", func() bool { return r.Stats().Written == 3 })
			if strings.Contains(r.logs.String(), "hunter2") || strings.Contains(r.Stats().Degraded, "hunter2") {
				t.Errorf("password in logs or degraded reason")
			}
		})
	}
}

// TestWriterAuthFailureAtStartup: a 401 to SHOW DATABASES is retried
// (Python: "Failed to authenticate. Check your credentials.").
func TestWriterAuthFailureAtStartup(t *testing.T) {
	f := newFake(t, false)
	f.script(nil, func(n int, _ request) reply {
		if n < 3 {
			return reply{Status: 401, Body: "authorization failed"}
		}
		return reply{}
	})
	r := start(t, testConfig(f))
	select {
	case <-r.Connected():
	case <-time.After(15 * time.Second):
		t.Fatal("not connected after the 401s")
	}
	if !strings.Contains(r.logs.String(), "failed to authenticate") {
		t.Errorf("no authentication warning logged:\n%s", r.logs.String())
	}
}

// TestWriterSplit413: InfluxDB refusing large bodies makes the publisher
// split batches until they fit; nothing is lost or duplicated. With gzip,
// the halves are compressed on their own; and when the second half then
// fails with a 500, only the unwritten lines are kept and written on the
// retry. The memory accounting returns to zero.
func TestWriterSplit413(t *testing.T) {
	for _, c := range []struct {
		name     string
		gz, fail bool
	}{{"plain", false, false}, {"gzip", true, false}, {"gzip partial retry", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t, false)
			failedAt := -1 // the write that failed with 500
			f.script(func(i int, r request) reply {
				n := strings.Count(r.Body, "\n")
				switch {
				case n > 5:
					return reply{Status: 413, Body: "http: request body too large"}
				case c.fail && failedAt < 0 && strings.Contains(r.Body, " 1795294690"): // the second half
					failedAt = i
					return reply{Status: 500, Body: "timeout"}
				}
				return reply{}
			}, nil)
			m := fakeDataMessage(10, 10)
			var enc publisher.Encoder
			want, _ := enc.AppendMessage(nil, m)
			cfg := testConfig(f)
			cfg.Gzip = c.gz
			r := start(t, cfg)
			r.Enqueue(m)
			waitFor(t, "all points", func() bool { return r.Stats().Written == 10 })
			reqs := f.writeRequests() // under the fake's lock, as failedAt was set
			if c.fail != (failedAt >= 0) {
				t.Fatalf("write %d failed with 500, want a failure: %v", failedAt, c.fail)
			}
			var stored strings.Builder
			for i, w := range reqs {
				if strings.Count(w.Body, "\n") <= 5 && i != failedAt {
					stored.WriteString(w.Body)
				}
			}
			if stored.String() != string(want) {
				t.Errorf("stored\n%s\nwant\n%s", stored.String(), want)
			}
			failures := map[bool]uint64{false: 0, true: 1}[c.fail]
			if st := r.Stats(); st.PendingBytes != 0 || st.PendingPoints != 0 || st.FailedWrites != failures {
				t.Errorf("after the writes: %d bytes and %d points pending, %d failed writes (want %d)",
					st.PendingBytes, st.PendingPoints, st.FailedWrites, failures)
			}
		})
	}
}

// TestWriterSplitSinglePoint: a lone point refused with 413 is dropped
// and counted, not retried forever.
func TestWriterSplitSinglePoint(t *testing.T) {
	f := newFake(t, false)
	f.script(func(int, request) reply { return reply{Status: 413, Body: "http: request body too large"} }, nil)
	r := start(t, testConfig(f))
	r.Enqueue(msg("a", "f", []float64{1}, field("x", feeds.Int(1))))
	waitFor(t, "the drop", func() bool { return r.Stats().Rejected[publisher.ReasonTooLarge] == 1 })
	if st := r.Stats(); st.PendingPoints != 0 || st.RejectedPoints != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestWriterPartialWrite: a field type conflict keeps the good lines (no
// resend) and reports the bad ones with their names.
func TestWriterPartialWrite(t *testing.T) {
	f := newFake(t, false)
	msgText := `partial write: field type conflict: input field "t_1" on measurement "observatory.ls240" is type float, already exists as type integer dropped=2`
	f.script(func(n int, _ request) reply {
		if n == 0 {
			return reply{Status: 400, Body: msgText}
		}
		return reply{}
	}, nil)
	cfg := testConfig(f)
	cfg.LogInterval = 20 * time.Millisecond
	m, _ := workedExample(t)
	r := start(t, cfg)
	r.Enqueue(m)
	waitFor(t, "the batch", func() bool { return r.Stats().Batches == 1 })
	st := r.Stats()
	if st.Written != 1 || st.RejectedPoints != 2 || st.Rejected[publisher.ReasonTypeConflict] != 2 ||
		!st.Connected || st.PendingPoints != 0 {
		t.Errorf("stats %+v", st)
	}
	waitFor(t, "the rejection log", func() bool {
		l := r.logs.String()
		return strings.Contains(l, "field type conflict") && strings.Contains(l, "agent=observatory.ls240 feed=temperatures field=t_1 count=2")
	})
	if n := len(f.writeRequests()); n != 1 {
		t.Errorf("%d write requests, want 1 (no resend)", n)
	}
}

// TestWriterDatabaseNotFound: a database dropped while running is created
// again and the batch resent.
func TestWriterDatabaseNotFound(t *testing.T) {
	f := newFake(t, false)
	f.databases = []string{"ocs_feeds"}
	f.script(func(n int, _ request) reply {
		if n == 0 {
			return reply{Status: 404, Body: `database not found: "ocs_feeds"`}
		}
		return reply{}
	}, nil)
	m, want := workedExample(t)
	r := start(t, testConfig(f))
	r.Enqueue(m)
	waitFor(t, "the write", func() bool { return r.Stats().Written == 3 })
	var seq []string
	for _, rq := range f.requests() {
		seq = append(seq, rq.Path+" "+rq.Query.Get("q"))
	}
	wantSeq := []string{"/query SHOW DATABASES", "/write ", `/query CREATE DATABASE "ocs_feeds"`, "/write "}
	if strings.Join(seq, "|") != strings.Join(wantSeq, "|") {
		t.Errorf("requests %q, want %q", seq, wantSeq)
	}
	if ws := f.writeRequests(); ws[1].Body != want {
		t.Errorf("resent body %q", ws[1].Body)
	}
}

// TestWriterRetryAfter: the next attempt waits at least Retry-After, even
// with a much shorter backoff.
func TestWriterRetryAfter(t *testing.T) {
	f := newFake(t, false)
	f.script(func(n int, _ request) reply {
		if n == 0 {
			return reply{Status: 503, Header: map[string]string{"Retry-After": "1"}, Body: "busy"}
		}
		return reply{}
	}, nil)
	r := start(t, testConfig(f))
	r.Enqueue(msg("a", "f", []float64{1}, field("x", feeds.Int(1))))
	waitFor(t, "the write", func() bool { return r.Stats().Written == 1 })
	ws := f.writeRequests()
	if gap := ws[1].At.Sub(ws[0].At); gap < time.Second {
		t.Errorf("retried after %v, Retry-After said 1s", gap)
	}
}

// TestSkipAndReject: unrecorded feeds are skipped; rejected values are
// counted and logged with their names once per interval.
func TestSkipAndReject(t *testing.T) {
	f := newFake(t, false)
	cfg := testConfig(f)
	cfg.LogInterval = 20 * time.Millisecond
	r := start(t, cfg)
	hb := msg("a", "heartbeat", []float64{1}, field("x", feeds.Int(1)))
	hb.Info.Record = false
	excl := msg("a", "excluded", []float64{1}, field("x", feeds.Int(1)))
	excl.Info.AggParams = map[string]any{"exclude_influx": true}
	r.Enqueue(hb)
	r.Enqueue(excl)
	r.Enqueue(msg("obs.agent", "temps", []float64{1, 2}, field("t", feeds.Float(1), feeds.Float(0)), field("bad", feeds.Float(1), feeds.Float(math.Inf(1)))))
	waitFor(t, "the write", func() bool { return r.Stats().Written == 2 })
	st := r.Stats()
	if st.Skipped != 2 || st.Received != 2 || st.Rejected[publisher.ReasonNonFinite] != 1 || st.RejectedPoints != 0 {
		t.Errorf("stats %+v", st)
	}
	waitFor(t, "the rejection log", func() bool {
		return strings.Contains(r.logs.String(), "agent=obs.agent feed=temps field=bad count=1")
	})
}

// TestTLS: https with and without certificate verification, and with a
// CA file.
func TestTLS(t *testing.T) {
	f := newFake(t, true)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	cert := f.srv.Certificate()
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParseCertificate(cert.Raw); err != nil {
		t.Fatal(err)
	}

	t.Run("not verified", func(t *testing.T) {
		cfg := testConfig(f)
		r := start(t, cfg)
		waitConnected(t, r)
	})
	t.Run("ca file", func(t *testing.T) {
		cfg := testConfig(f)
		cfg.CAFile = caFile
		r := start(t, cfg)
		waitConnected(t, r)
	})
	t.Run("verified without the CA fails", func(t *testing.T) {
		cfg := testConfig(f)
		cfg.VerifySSL = true
		r := start(t, cfg)
		waitFor(t, "a certificate error", func() bool {
			return strings.Contains(r.Stats().Degraded, "certificate")
		})
		if err := r.stop(t); !errors.Is(err, publisher.ErrNotConnected) {
			t.Errorf("Run = %v", err)
		}
	})
	t.Run("host port ssl", func(t *testing.T) {
		cfg := testConfig(f)
		host, port := splitHostPort(t, f.srv.URL)
		cfg.URL, cfg.Host, cfg.Port, cfg.SSL = "", host, port, true
		r := start(t, cfg)
		waitConnected(t, r)
	})
}

func waitConnected(t *testing.T, r *running) {
	t.Helper()
	select {
	case <-r.Connected():
	case <-time.After(15 * time.Second):
		t.Fatalf("not connected: %+v", r.Stats())
	}
}

func splitHostPort(t *testing.T, u string) (string, int) {
	t.Helper()
	hp := u[strings.Index(u, "//")+2:]
	i := strings.LastIndex(hp, ":")
	port := 0
	for _, c := range hp[i+1:] {
		port = port*10 + int(c-'0')
	}
	return hp[:i], port
}

// TestWriterUnparsable: lines InfluxDB cannot parse are reported with
// their names and not resent; the publisher stays connected.
func TestWriterUnparsable(t *testing.T) {
	f := newFake(t, false)
	text := "partial write: unable to parse 'observatory.ls240,feed=temperatures p=1e-05 1700000000249999872': bad timestamp dropped=0"
	f.script(func(n int, _ request) reply {
		if n == 0 {
			return reply{Status: 400, Body: text}
		}
		return reply{}
	}, nil)
	m, _ := workedExample(t)
	r := start(t, testConfig(f))
	r.Enqueue(m)
	waitFor(t, "the batch", func() bool { return r.Stats().Batches == 1 })
	st := r.Stats()
	if st.Written != 2 || st.RejectedPoints != 1 || st.Rejected[publisher.ReasonUnparsable] != 1 || !st.Connected {
		t.Errorf("stats %+v", st)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.logs.String(), "agent=observatory.ls240 feed=temperatures count=1") {
		t.Errorf("unparsable line not logged with names:\n%s", r.logs.String())
	}
	if n := len(f.writeRequests()); n != 1 {
		t.Errorf("%d write requests, want 1", n)
	}
}

// TestBatchWait: with no write in flight a point is written once it has
// waited BatchWait, long before FlushInterval; when BatchWait is longer
// than FlushInterval, FlushInterval applies. Messages enqueued together
// share one request.
func TestBatchWait(t *testing.T) {
	for _, c := range []struct {
		name             string
		wait, flush, max time.Duration
	}{
		{"batch wait", 300 * time.Millisecond, time.Hour, 30 * time.Second},
		{"flush interval shorter", time.Hour, 300 * time.Millisecond, 30 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t, false)
			cfg := testConfig(f)
			cfg.BatchWait, cfg.FlushInterval = c.wait, c.flush
			m, _ := workedExample(t)
			r := start(t, cfg)
			waitFor(t, "start-up", func() bool { return r.Stats().Connected })
			for range 3 {
				if !r.Enqueue(m) {
					t.Fatal("Enqueue refused")
				}
			}
			deadline := time.Now().Add(c.max)
			for r.Stats().Written != 9 {
				if time.Now().After(deadline) {
					t.Fatalf("not written within %v (BatchWait %v, FlushInterval %v)", c.max, c.wait, c.flush)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if st := r.Stats(); st.Batches != 1 {
				t.Errorf("%d write requests for three messages enqueued together, want 1", st.Batches)
			}
		})
	}
}
