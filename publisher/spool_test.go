package publisher_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/internal/proc"
	"github.com/ocsflux/ocsflux/publisher"
)

// spoolBatch builds a batch of n lines of measurement m whose values
// start at from, line i at time i seconds (1970).
func spoolBatch(m string, from, n int) publisher.SpoolBatch {
	var b publisher.SpoolBatch
	for i := from; i < from+n; i++ {
		b.Lines = fmt.Appendf(b.Lines, "%s,feed=f x=%di %d\n", m, i, int64(i)*1e9)
		b.Ends = append(b.Ends, len(b.Lines))
	}
	return b
}

// openSpool opens a spool in dir, closed at the end of the test, with its
// logs in the returned buffer.
func openSpool(t *testing.T, cfg publisher.SpoolConfig) (*publisher.Spool, *proc.Output) {
	t.Helper()
	logs := &proc.Output{}
	s, err := publisher.OpenSpool(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		if t.Failed() {
			t.Logf("spool logs:\n%s", logs.String())
		}
	})
	return s, logs
}

// drain replays every record (merging up to maxPoints), acknowledges them
// and returns the lines in order.
func drain(t *testing.T, s *publisher.Spool, maxPoints int) []string {
	t.Helper()
	var lines []string
	for range 100000 {
		var b publisher.SpoolBatch
		for {
			ok, err := s.Next(&b, maxPoints, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
		}
		if b.Points() == 0 {
			return lines
		}
		lines = append(lines, splitLines(b)...)
		if err := s.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("drain did not end")
	return nil
}

func splitLines(b publisher.SpoolBatch) []string {
	var out []string
	start := 0
	for _, e := range b.Ends {
		out = append(out, string(b.Lines[start:e]))
		start = e
	}
	return out
}

func wantLines(m string, from, n int) []string {
	return splitLines(spoolBatch(m, from, n))
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// TestSpoolAppendReplay: batches survive a reopen, come back oldest first
// across segments, and acknowledged segments are deleted.
func TestSpoolAppendReplay(t *testing.T) {
	dir := t.TempDir()
	cfg := publisher.SpoolConfig{Dir: dir, SegmentBytes: 4096}
	s, _ := openSpool(t, cfg)
	for i := 0; i < 40; i++ {
		if err := s.Append(spoolBatch("m", i*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Points != 400 || st.Segments < 3 || st.Appended != 400 || st.AppendedBatches != 40 {
		t.Fatalf("stats %+v", st)
	}
	if st.Oldest != time.Unix(0, 0) || st.OldestSpooled.IsZero() {
		t.Errorf("oldest %v spooled %v", st.Oldest, st.OldestSpooled)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, _ := openSpool(t, cfg)
	if st := s2.Stats(); st.Points != 400 || st.CorruptRecords != 0 {
		t.Fatalf("after reopen %+v", st)
	}
	if got := drain(t, s2, 25); !reflect.DeepEqual(got, wantLines("m", 0, 400)) {
		t.Errorf("replayed %d lines, want 400 in order", len(got))
	}
	if st := s2.Stats(); st.Points != 0 || st.Segments != 0 || st.Bytes != 0 || st.Acked != 400 {
		t.Errorf("after replay %+v", st)
	}
	if f := segFiles(t, dir); len(f) != 0 {
		t.Errorf("segments left: %v", f)
	}
}

// TestSpoolNextLimits: Next merges records up to the limits, but always
// hands out at least one.
func TestSpoolNextLimits(t *testing.T) {
	s, _ := openSpool(t, publisher.SpoolConfig{Dir: t.TempDir()})
	for i := 0; i < 5; i++ {
		if err := s.Append(spoolBatch("m", i*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	var b publisher.SpoolBatch
	for {
		ok, err := s.Next(&b, 25, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	if b.Points() != 20 {
		t.Fatalf("merged %d points, want 20 (two records)", b.Points())
	}
	if !b.First.Equal(time.Unix(0, 0)) || !b.Last.Equal(time.Unix(19, 0)) || b.Created.IsZero() {
		t.Errorf("times first %v last %v created %v", b.First, b.Last, b.Created)
	}
	b.Reset()
	if ok, _ := s.Next(&b, 1, 1); !ok || b.Points() != 10 {
		t.Errorf("a record larger than the limits: ok %v points %d", ok, b.Points())
	}
	if n := s.Unread(); n != 2 {
		t.Errorf("Unread = %d, want 2", n)
	}
}

// TestSpoolRelease: released records are handed out again, in order.
func TestSpoolRelease(t *testing.T) {
	dir := t.TempDir()
	s, _ := openSpool(t, publisher.SpoolConfig{Dir: dir, SegmentBytes: 4096})
	for i := 0; i < 30; i++ {
		if err := s.Append(spoolBatch("m", i*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	var b publisher.SpoolBatch
	for i := 0; i < 3; i++ {
		if ok, err := s.Next(&b, 1000, 1<<20); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if err := s.Ack(); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	for i := 0; i < 20; i++ { // crosses segments
		if ok, err := s.Next(&b, 1000, 1<<20); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	s.Release()
	if got := drain(t, s, 1000); !reflect.DeepEqual(got, wantLines("m", 30, 270)) {
		t.Errorf("after release replayed %d lines, want lines 30..299", len(got))
	}
	if f := segFiles(t, dir); len(f) != 0 {
		t.Errorf("segments left: %v", f)
	}
}

// TestSpoolAppendWhileReplaying: replay catching up with the segment being
// appended to closes it; later appends go to a new segment.
func TestSpoolAppendWhileReplaying(t *testing.T) {
	dir := t.TempDir()
	s, _ := openSpool(t, publisher.SpoolConfig{Dir: dir})
	var all []string
	for i := 0; i < 10; i++ {
		if err := s.Append(spoolBatch("m", i*10, 10)); err != nil {
			t.Fatal(err)
		}
		all = append(all, drain(t, s, 1000)...)
	}
	if !reflect.DeepEqual(all, wantLines("m", 0, 100)) {
		t.Errorf("replayed %d lines", len(all))
	}
	if f := segFiles(t, dir); len(f) != 0 {
		t.Errorf("segments left: %v", f)
	}
}

// TestSpoolLock: two spools cannot share a directory; the lock is
// released by Close.
func TestSpoolLock(t *testing.T) {
	dir := t.TempDir()
	s, err := publisher.OpenSpool(publisher.SpoolConfig{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = publisher.OpenSpool(publisher.SpoolConfig{Dir: dir}, nil)
	if !errors.Is(err, publisher.ErrSpoolLocked) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Errorf("second open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := publisher.OpenSpool(publisher.SpoolConfig{Dir: dir}, nil)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	_ = s2.Close()
	if err := s.Append(spoolBatch("m", 0, 1)); !errors.Is(err, publisher.ErrSpoolClosed) {
		t.Errorf("Append after Close: %v", err)
	}
}

// TestSpoolSyncPolicies: every policy keeps the data across a reopen.
func TestSpoolSyncPolicies(t *testing.T) {
	for _, sync := range []time.Duration{publisher.SpoolSyncEveryBatch, publisher.SpoolSyncNever, time.Hour} {
		t.Run(sync.String(), func(t *testing.T) {
			cfg := publisher.SpoolConfig{Dir: t.TempDir(), Sync: sync}
			s, _ := openSpool(t, cfg)
			for i := 0; i < 3; i++ {
				if err := s.Append(spoolBatch("m", i*5, 5)); err != nil {
					t.Fatal(err)
				}
			}
			s.Maintain()
			s.Sync()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, _ := openSpool(t, cfg)
			if got := drain(t, s2, 100); !reflect.DeepEqual(got, wantLines("m", 0, 15)) {
				t.Errorf("replayed %q", got)
			}
			if st := s2.Stats(); st.SyncErrors != 0 {
				t.Errorf("sync errors %d", st.SyncErrors)
			}
		})
	}
}
