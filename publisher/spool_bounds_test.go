package publisher_test

import (
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/publisher"
)

// fakeClock is a settable clock for the spool's max age.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestSpoolMaxBytes: when full, the oldest segments are dropped, counted
// and logged with their time range; the newest data is kept.
func TestSpoolMaxBytes(t *testing.T) {
	dir := t.TempDir()
	s, logs := openSpool(t, publisher.SpoolConfig{Dir: dir, MaxBytes: 64 << 10})
	const batches, per = 200, 20
	for i := 0; i < batches; i++ {
		if err := s.Append(spoolBatch("m", i*per, per)); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Bytes > 64<<10 {
		t.Errorf("spool holds %d bytes, over its 64 KiB bound", st.Bytes)
	}
	if st.DroppedPoints == 0 || st.DroppedSegments == 0 || int64(st.DroppedPoints)+st.Points != batches*per {
		t.Fatalf("dropped %d kept %d of %d: %+v", st.DroppedPoints, st.Points, batches*per, st)
	}
	kept := drain(t, s, 1<<20)
	first := batches*per - len(kept)
	if !reflect.DeepEqual(kept, wantLines("m", first, len(kept))) {
		t.Errorf("kept lines are not the newest %d", len(kept))
	}
	// The first drop lost the oldest points: n points from t=0 to n-1 s.
	l := logs.String()
	m := regexp.MustCompile(`dropped the oldest spooled data" bound=spool-max-bytes points=(\d+) bytes=\d+ from=(\S+) to=(\S+)`).FindStringSubmatch(l)
	if m == nil {
		t.Fatalf("drop not logged with its time range:\n%s", l)
	}
	n, _ := strconv.Atoi(m[1])
	if from, to := m[2], m[3]; from != "1970-01-01T00:00:00.000Z" ||
		to != time.Unix(int64(n-1), 0).UTC().Format("2006-01-02T15:04:05.000Z") {
		t.Errorf("first drop of %d points logged from %s to %s", n, from, to)
	}
}

// TestSpoolMaxAge: segments whose newest batch is older than MaxAge are
// dropped, at open and by Maintain.
func TestSpoolMaxAge(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	cfg := publisher.SpoolConfig{Dir: dir, MaxAge: time.Hour, SegmentBytes: 4096, Now: clock.Now}
	s, logs := openSpool(t, cfg)
	for i := 0; i < 20; i++ {
		if err := s.Append(spoolBatch("m", i*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(50 * time.Minute)
	if err := s.Append(spoolBatch("m", 200, 10)); err != nil {
		t.Fatal(err)
	}
	clock.Add(20 * time.Minute)
	s.Maintain()
	st := s.Stats()
	if st.DroppedPoints != 200 || st.Points != 10 {
		t.Fatalf("after max age: %+v", st)
	}
	if !strings.Contains(logs.String(), "bound=spool-max-age") {
		t.Errorf("not logged:\n%s", logs.String())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Hour)
	s2, _ := openSpool(t, cfg)
	if st := s2.Stats(); st.Points != 0 || st.DroppedPoints != 10 || len(segFiles(t, dir)) != 0 {
		t.Errorf("at open after max age: %+v", st)
	}
}

// TestSpoolDropWhileReplaying: a segment dropped while its records are
// handed out: acknowledged ones were written; released ones are counted as
// dropped.
func TestSpoolDropWhileReplaying(t *testing.T) {
	for _, ack := range []bool{true, false} {
		t.Run(map[bool]string{true: "ack", false: "release"}[ack], func(t *testing.T) {
			s, _ := openSpool(t, publisher.SpoolConfig{Dir: t.TempDir(), MaxBytes: 64 << 10})
			if err := s.Append(spoolBatch("m", 0, 20)); err != nil {
				t.Fatal(err)
			}
			var b publisher.SpoolBatch
			if ok, err := s.Next(&b, 1000, 1<<20); !ok || err != nil {
				t.Fatal(ok, err)
			}
			for i := 1; s.Stats().DroppedSegments == 0; i++ {
				if i > 10000 {
					t.Fatal("no segment dropped")
				}
				if err := s.Append(spoolBatch("m", i*20, 20)); err != nil {
					t.Fatal(err)
				}
			}
			before := s.Stats().DroppedPoints
			if ack {
				if err := s.Ack(); err != nil {
					t.Fatal(err)
				}
			} else {
				s.Release()
			}
			st := s.Stats()
			want := before
			if !ack {
				want += 20
			}
			if st.DroppedPoints != want {
				t.Errorf("dropped %d, want %d", st.DroppedPoints, want)
			}
			kept := drain(t, s, 1<<20)
			if int64(len(kept)) != st.Points {
				t.Errorf("replayed %d, stats said %d", len(kept), st.Points)
			}
		})
	}
}

// TestSpoolOversizedBatch: a batch larger than MaxBytes is dropped and
// counted, the rest kept.
func TestSpoolOversizedBatch(t *testing.T) {
	s, _ := openSpool(t, publisher.SpoolConfig{Dir: t.TempDir(), MaxBytes: 16 << 10})
	if err := s.Append(spoolBatch("m", 0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(spoolBatch("m", 100, 2000)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.DroppedPoints != 2000 || st.Points != 10 {
		t.Errorf("stats %+v", st)
	}
}

// TestSpoolEmptySegmentFile: a segment file created but never written (a
// crash right after creation) is removed silently.
func TestSpoolEmptySegmentFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/00000000000000000007.seg", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := openSpool(t, publisher.SpoolConfig{Dir: dir})
	if st := s.Stats(); st.Segments != 0 || st.CorruptRecords != 0 {
		t.Errorf("stats %+v", st)
	}
	if err := s.Append(spoolBatch("m", 0, 1)); err != nil {
		t.Fatal(err)
	}
	if f := segFiles(t, dir); len(f) != 1 || !strings.HasSuffix(f[0], "00000000000000000008.seg") {
		t.Errorf("new segment %v, want sequence 8", f)
	}
}
