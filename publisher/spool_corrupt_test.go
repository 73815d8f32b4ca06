package publisher_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/publisher"
)

// writeSpool creates a spool in a new directory holding n batches of 10
// lines (values 0..10n-1) in one segment and returns the directory and the
// segment file.
func writeSpool(t testing.TB, n int) (dir, seg string) {
	t.Helper()
	dir = t.TempDir()
	s, err := publisher.OpenSpool(publisher.SpoolConfig{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := s.Append(spoolBatch("m", i*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files := segFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("segments %v", files)
	}
	return dir, files[0]
}

// recordStarts walks the framing of a valid segment and returns where each
// record starts.
func recordStarts(t *testing.T, data []byte) []int {
	t.Helper()
	var offs []int
	for off := 8; off < len(data); {
		offs = append(offs, off)
		off += 8 + int(binary.LittleEndian.Uint32(data[off:]))
	}
	return offs
}

// TestSpoolCorruptTail: torn or garbage tails are skipped, counted and
// truncated, never fatal; the rest is replayed; the next open finds it
// clean.
func TestSpoolCorruptTail(t *testing.T) {
	cases := []struct {
		name    string
		corrupt func(data []byte, offs []int) []byte
		keep    int // records kept
	}{
		{"torn last record", func(d []byte, offs []int) []byte { return d[:offs[4]+40] }, 4},
		{"torn header", func(d []byte, offs []int) []byte { return d[:offs[4]+5] }, 4},
		{"zeros appended", func(d []byte, _ []int) []byte { return append(d, make([]byte, 4096)...) }, 5},
		{"garbage appended", func(d []byte, _ []int) []byte {
			return append(d, []byte("\x10\x00\x00\x00garbage that is not a record at all")...)
		}, 5},
		{"flipped bit in the last record", func(d []byte, offs []int) []byte { d[len(d)-3] ^= 1; return d }, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, seg := writeSpool(t, 5)
			data, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			data = tc.corrupt(data, recordStarts(t, data))
			if err := os.WriteFile(seg, data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, logs := openSpool(t, publisher.SpoolConfig{Dir: dir})
			st := s.Stats()
			if st.CorruptRecords != 1 || st.CorruptBytes == 0 || st.Points != int64(tc.keep*10) {
				t.Errorf("stats %+v", st)
			}
			if !strings.Contains(logs.String(), "skipped a corrupt or torn record") {
				t.Errorf("not logged:\n%s", logs.String())
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, _ := openSpool(t, publisher.SpoolConfig{Dir: dir})
			if st := s2.Stats(); st.CorruptRecords != 0 {
				t.Errorf("the torn tail was not truncated: %+v", st)
			}
			if got := drain(t, s2, 1000); !reflect.DeepEqual(got, wantLines("m", 0, tc.keep*10)) {
				t.Errorf("replayed %d lines, want the first %d", len(got), tc.keep*10)
			}
		})
	}
}

// TestSpoolCorruptMiddle: a corrupt record in the middle loses only
// itself: the records after it are found again.
func TestSpoolCorruptMiddle(t *testing.T) {
	dir, seg := writeSpool(t, 5)
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	offs := recordStarts(t, data)
	data[offs[2]+50] ^= 0x40
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := openSpool(t, publisher.SpoolConfig{Dir: dir})
	if st := s.Stats(); st.CorruptRecords != 1 || st.Points != 40 {
		t.Errorf("stats %+v", st)
	}
	want := append(wantLines("m", 0, 20), wantLines("m", 30, 20)...)
	if got := drain(t, s, 1000); !reflect.DeepEqual(got, want) {
		t.Errorf("replayed %q", got)
	}
}

// TestSpoolBadSegmentHeader: a segment file without the magic is counted
// and removed; other segments are kept.
func TestSpoolBadSegmentHeader(t *testing.T) {
	dir, _ := writeSpool(t, 2)
	bad := dir + "/00000000000000000099.seg"
	if err := os.WriteFile(bad, []byte("not a spool segment"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := openSpool(t, publisher.SpoolConfig{Dir: dir})
	if st := s.Stats(); st.CorruptRecords != 1 || st.Points != 20 {
		t.Errorf("stats %+v", st)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("bad segment not removed: %v", err)
	}
}

// FuzzSpoolOpen: whatever a segment file holds, OpenSpool does not fail or
// panic, and every line it replays comes from a valid record.
func FuzzSpoolOpen(f *testing.F) {
	_, seg := writeSpool(f, 3)
	valid, err := os.ReadFile(seg)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(append([]byte("OCSFSPL1"), make([]byte, 64)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(dir+"/00000000000000000001.seg", data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := publisher.OpenSpool(publisher.SpoolConfig{Dir: dir}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, l := range drain(t, s, 1000) {
			if !bytes.Contains(data, []byte(l)) {
				t.Errorf("replayed a line not in the file: %q", l)
			}
		}
	})
}
