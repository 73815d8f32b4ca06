package publisher_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

// lineStore collects the lines of the writes a fake answered with 204.
type lineStore struct {
	mu    sync.Mutex
	lines []string
}

func (s *lineStore) add(body string) {
	s.mu.Lock()
	s.lines = append(s.lines, bodyLines(body)...)
	s.mu.Unlock()
}

func (s *lineStore) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines)
}

// waitWithin polls cond until it holds, failing the test if d passes
// first.
func waitWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// encodeLines returns the lines the encoder writes for m.
func encodeLines(m *feeds.Message) []string {
	var enc publisher.Encoder
	b, _ := enc.AppendMessage(nil, m)
	return bodyLines(string(b))
}

// intMessage is one message of agent/feed with points x=v[i] at times
// t0+i s.
func intMessage(agent, feed string, t0 float64, v ...int64) *feeds.Message {
	ts := make([]float64, len(v))
	vals := make([]feeds.Value, len(v))
	for i := range v {
		ts[i] = t0 + float64(i)
		vals[i] = feeds.Int(v[i])
	}
	return msg(agent, feed, ts, field("x", vals...))
}

// TestPoisonBatchDoesNotBlock: a server refusing one line with a 400 and a
// message nothing recognises ("no reply blocks the queue"): the batch is
// tried three times, then bisected; the refused line alone is
// dead-lettered once (refused by server, with the status and message),
// every other line is written once, and the batches behind it are written
// at once, without waiting for backoff or RetryMax.
func TestPoisonBatchDoesNotBlock(t *testing.T) {
	const poison, refusal = "x=777i ", "invalid body: something new"
	f := newFake(t, false)
	var stored lineStore
	f.script(func(_ int, r request) reply {
		if strings.Contains(r.Body, poison) {
			return reply{Status: 400, Body: refusal}
		}
		stored.add(r.Body)
		return reply{}
	}, nil)
	cfg := testConfig(f)
	cfg.RetryMin, cfg.RetryMax = 10*time.Millisecond, 30*time.Second
	cfg.DeadLetterFile = filepath.Join(t.TempDir(), "dead.jsonl")
	r := start(t, cfg)
	waitConnected(t, r)

	first := intMessage("obs.a", "f", 1, 0, 1, 2, 3, 777, 5, 6, 7, 8, 9)
	lines := encodeLines(first)
	poisonLine := strings.TrimSuffix(lines[4], "\n")
	if !strings.Contains(lines[4], poison) {
		t.Fatalf("line 4 %q is not the poison", lines[4])
	}
	want := slices.Delete(slices.Clone(lines), 4, 5)
	r.Enqueue(first)
	waitFor(t, "the first write", func() bool { return len(f.writeRequests()) >= 1 })
	for i := range 20 {
		m := intMessage("obs.a", "g", float64(100+i), int64(i))
		want = append(want, encodeLines(m)...)
		r.Enqueue(m)
	}

	// RetryMax is 30 s: were the poison batch retried like a 5xx, the
	// batches behind it would wait for it far longer than this.
	waitWithin(t, 5*time.Second, "every good point written", func() bool {
		return len(stored.get()) >= len(want) && r.Stats().Written >= uint64(len(want))
	})
	waitFor(t, "the dead letter", func() bool { return r.Stats().DeadLettered >= 1 })
	if got := stored.get(); !sameLines(got, want) {
		t.Errorf("lines stored (answered 204)\n got: %q\nwant: %q (each once)", got, want)
	}
	st := r.Stats()
	if st.Written != uint64(len(want)) || st.DeadLettered != 1 || st.RejectedPoints != 1 ||
		st.Rejected[publisher.ReasonRefused] != 1 || st.FailedWrites != 0 || st.PendingPoints != 0 ||
		!st.Connected || st.Degraded != "" {
		t.Errorf("stats: Written %d (want %d) DeadLettered %d RejectedPoints %d Rejected %v FailedWrites %d Pending %d Connected %v Degraded %q",
			st.Written, len(want), st.DeadLettered, st.RejectedPoints, st.Rejected, st.FailedWrites, st.PendingPoints,
			st.Connected, st.Degraded)
	}
	wantDL := []publisher.DeadLetterStats{{Agent: "obs.a", Reason: publisher.ReasonRefused, Count: 1}}
	if !reflect.DeepEqual(st.DeadLetters, wantDL) {
		t.Errorf("DeadLetters %+v, want %+v", st.DeadLetters, wantDL)
	}

	// The batch was sent three times whole, RetryMin (±20%) or more apart,
	// and then bisected.
	ws := f.writeRequests()
	if len(ws) < 4 {
		t.Fatalf("%d write requests", len(ws))
	}
	for i := 1; i < 3; i++ {
		if ws[i].Body != ws[0].Body || !strings.Contains(ws[i].Body, poison) {
			t.Errorf("try %d: body %q, want the first one again %q", i+1, ws[i].Body, ws[0].Body)
		}
		if gap := ws[i].At.Sub(ws[i-1].At); gap < 8*time.Millisecond {
			t.Errorf("try %d only %v after the previous one, want a backoff of at least 8ms", i+1, gap)
		}
	}
	if n0, n3 := len(bodyLines(ws[0].Body)), len(bodyLines(ws[3].Body)); n3 >= n0 || !strings.HasPrefix(ws[0].Body, ws[3].Body) {
		t.Errorf("4th request has %d lines, want the first half of the %d of the batch", n3, n0)
	}
	// After the three tries the poison is sent in ever smaller requests,
	// the last one alone, and never again.
	var sizes []int
	for _, w := range ws[3:] {
		if strings.Contains(w.Body, poison) {
			sizes = append(sizes, len(bodyLines(w.Body)))
		}
	}
	if len(sizes) == 0 || sizes[len(sizes)-1] != 1 || !slices.IsSortedFunc(sizes, func(a, b int) int { return b - a }) ||
		len(slices.Compact(slices.Clone(sizes))) != len(sizes) {
		t.Errorf("lines of the requests holding the poison after the three tries: %v, want strictly fewer each time, down to 1", sizes)
	}

	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.DeadLettered != 1 {
		t.Errorf("DeadLettered %d after stop, want 1", st.DeadLettered)
	}
	dls := readDeadLetters(t, cfg.DeadLetterFile)
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1: %+v", len(dls), dls)
	}
	d := dls[0]
	if d.Line != poisonLine || d.Reason != publisher.ReasonRefused || d.Error != "HTTP 400: "+refusal ||
		d.Agent != "obs.a" || d.Feed != "f" || !d.Time.Equal(time.Unix(5, 0)) || d.At.IsZero() {
		t.Errorf("dead letter %+v, want line %q, reason %q, error %q", d, poisonLine, publisher.ReasonRefused, "HTTP 400: "+refusal)
	}
}

// TestServerRefusesEverything: a server answering every write with the
// same unknown 400 (a misconfigured proxy, a wrong API) refuses the
// server, not the points: nothing is dead-lettered, the output is
// degraded with the status and message, and once the server accepts
// writes every point is written once.
//
// 300 lines take more requests to bisect down to single lines (2n+1) than
// a delivery may spend isolating refused lines (512): the lines beyond
// that budget must not be dead-lettered either.
func TestServerRefusesEverything(t *testing.T) {
	for _, n := range []int{8, 300} {
		t.Run(map[int]string{8: "8 lines", 300: "300 lines"}[n], func(t *testing.T) {
			f := newFake(t, false)
			var refuse atomic.Bool
			refuse.Store(true)
			var stored lineStore
			f.script(func(_ int, r request) reply {
				if refuse.Load() {
					return reply{Status: 400, Body: "nope"}
				}
				stored.add(r.Body)
				return reply{}
			}, nil)
			cfg := testConfig(f)
			cfg.DeadLetterFile = filepath.Join(t.TempDir(), "dead.jsonl")
			r := start(t, cfg)
			waitConnected(t, r)
			v := make([]int64, n)
			for i := range v {
				v[i] = int64(i)
			}
			m := intMessage("obs.a", "f", 1, v...) // one batch
			want := encodeLines(m)
			r.Enqueue(m)
			waitFor(t, "two failed deliveries", func() bool {
				st := r.Stats()
				return st.FailedWrites >= 2 || st.DeadLettered+st.Written > 0
			})
			st := r.Stats()
			if st.DeadLettered != 0 || st.Written != 0 || st.RejectedPoints != 0 || st.PendingPoints != n || st.Connected ||
				!strings.Contains(st.Degraded, "HTTP 400") || !strings.Contains(st.Degraded, "nope") {
				t.Errorf("while every write is refused: DeadLettered %d (want 0) Written %d RejectedPoints %d Pending %d (want %d) Connected %v Degraded %q",
					st.DeadLettered, st.Written, st.RejectedPoints, st.PendingPoints, n, st.Connected, st.Degraded)
			}

			refuse.Store(false)
			waitFor(t, "nothing pending", func() bool { st := r.Stats(); return st.PendingPoints == 0 && st.Written > 0 })
			st = r.Stats()
			if st.Written != uint64(n) || st.DeadLettered != 0 || st.Degraded != "" || !st.Connected || st.PendingPoints != 0 {
				t.Errorf("after: Written %d (want %d) DeadLettered %d Degraded %q Connected %v Pending %d",
					st.Written, n, st.DeadLettered, st.Degraded, st.Connected, st.PendingPoints)
			}
			if got := stored.get(); !sameLines(got, want) {
				t.Errorf("stored %d lines, want the %d sent, each once", len(got), len(want))
			}
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(cfg.DeadLetterFile); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("dead-letter file: %v, want none", err)
			}
		})
	}
}

// interceptWrites serves f's API except the /write requests that
// intercept answers itself (it returns true); body is the request's.
func interceptWrites(t *testing.T, f *fakeInflux, intercept func(w http.ResponseWriter, body []byte) bool) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/write" {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				t.Errorf("read body: %v", err)
				return
			}
			if intercept(w, body) {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		f.serve(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// Test200IsNotSuccess: only 204 means stored ("any 2xx counted as
// written"): a login portal's 200 text/html page, or a 200 whose body is
// cut off, is a failure named with the status and the body; the points are
// kept and written, once, when the server answers 204.
func Test200IsNotSuccess(t *testing.T) {
	cases := []struct {
		name  string
		spool bool
		body  string // what the degraded reason shows of the reply
		reply func(t *testing.T, w http.ResponseWriter)
	}{
		{"html page", false, "<html>login</html>", func(t *testing.T, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "<html>login</html>")
		}},
		{"cut off", true, "short", func(t *testing.T, w http.ResponseWriter) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			defer conn.Close()
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
			_ = buf.Flush()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t, false)
			var stored lineStore
			f.script(func(_ int, r request) reply {
				stored.add(r.Body)
				return reply{}
			}, nil)
			var bad atomic.Bool
			bad.Store(true)
			var badReplies atomic.Int32
			srv := interceptWrites(t, f, func(w http.ResponseWriter, _ []byte) bool {
				if !bad.Load() {
					return false
				}
				badReplies.Add(1)
				c.reply(t, w)
				return true
			})
			cfg := testConfig(f)
			cfg.URL = srv.URL
			if c.spool {
				cfg.SpoolDir = t.TempDir()
			}
			r := start(t, cfg)
			waitConnected(t, r)
			m := intMessage("obs.a", "f", 1, 1, 2, 3, 4, 5)
			want := encodeLines(m)
			r.Enqueue(m)
			waitFor(t, "two failed writes", func() bool {
				st := r.Stats()
				return st.FailedWrites >= 2 || st.Written+st.Replayed > 0 // the latter: a 200 counted as stored
			})
			st := r.Stats()
			if st.Written != 0 || st.Replayed != 0 || st.Batches != 0 || st.Connected ||
				!strings.Contains(st.Degraded, "HTTP 200") || !strings.Contains(st.Degraded, c.body) {
				t.Errorf("while answered 200: Written %d Replayed %d Batches %d Connected %v Degraded %q (want HTTP 200 and %q)",
					st.Written, st.Replayed, st.Batches, st.Connected, st.Degraded, c.body)
			}
			if got := stored.get(); len(got) != 0 {
				t.Errorf("stored %q before any 204", got)
			}

			bad.Store(false)
			waitFor(t, "every point written", func() bool {
				st := r.Stats()
				return st.Written+st.Replayed >= uint64(len(want)) && st.SpoolPoints == 0
			})
			st = r.Stats()
			if st.Written+st.Replayed != uint64(len(want)) || st.Degraded != "" || !st.Connected || st.PendingPoints != 0 {
				t.Errorf("after: Written %d + Replayed %d (want %d) Degraded %q Connected %v Pending %d",
					st.Written, st.Replayed, len(want), st.Degraded, st.Connected, st.PendingPoints)
			}
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			if got := stored.get(); !sameLines(got, want) {
				t.Errorf("stored (answered 204)\n got: %q\nwant: %q, each once", got, want)
			}
			if n := badReplies.Load(); n < 2 {
				t.Errorf("%d 200 replies", n)
			}
		})
	}
}
