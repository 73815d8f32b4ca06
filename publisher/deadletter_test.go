package publisher_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// readDeadLetters decodes a dead-letter file.
func readDeadLetters(t *testing.T, path string) []publisher.DeadLetter {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []publisher.DeadLetter
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var dl publisher.DeadLetter
		if err := json.Unmarshal(sc.Bytes(), &dl); err != nil {
			t.Fatalf("dead letter %q: %v", sc.Text(), err)
		}
		out = append(out, dl)
	}
	return out
}

// TestDeadLetterTypeConflict: InfluxDB's partial write for a field type
// conflict: the refused lines (found from its message, no resend) go to
// the dead-letter file with their names, value and both types; the
// conflict is logged once per field; the publisher stays connected.
func TestDeadLetterTypeConflict(t *testing.T) {
	f := newFake(t, false)
	conflict := `partial write: field type conflict: input field "t_1" on measurement "observatory.ls240" is type float, already exists as type integer dropped=2`
	f.script(func(int, request) reply { return reply{Status: 400, Body: conflict} }, nil)
	cfg := spoolConfig(t, f)
	m, _ := workedExample(t)
	r := start(t, cfg)
	r.Enqueue(m)
	waitFor(t, "the batch", func() bool { return r.Stats().Batches == 1 })
	m2, _ := workedExample(t)
	r.Enqueue(m2)
	waitFor(t, "the second batch", func() bool { return r.Stats().Batches == 2 })
	st := r.Stats()
	if st.Written != 2 || st.DeadLettered != 4 || !st.Connected || st.Degraded != "" || st.SpoolPoints != 0 {
		t.Errorf("stats %+v", st)
	}
	want := []publisher.DeadLetterStats{{Agent: "observatory.ls240", Field: "t_1", Reason: publisher.ReasonTypeConflict, Count: 4}}
	if !reflect.DeepEqual(st.DeadLetters, want) {
		t.Errorf("dead letters %+v", st.DeadLetters)
	}
	if n := len(f.writeRequests()); n != 2 {
		t.Errorf("%d write requests, want 2 (the refused lines found from the message)", n)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	dls := readDeadLetters(t, filepath.Join(cfg.SpoolDir, publisher.DeadLetterFileName))
	if len(dls) != 4 {
		t.Fatalf("%d dead letters", len(dls))
	}
	d := dls[0]
	if d.Agent != "observatory.ls240" || d.Feed != "temperatures" || d.Field != "t_1" || d.Value != 1.5 ||
		d.Type != "float" || d.ExistingType != "integer" || d.Reason != publisher.ReasonTypeConflict ||
		!d.Time.Equal(time.Unix(0, 1700000000500000000)) || d.At.IsZero() ||
		d.Line != `observatory.ls240,feed=temperatures t_1=1.5,count=3i,ok=True,mode="auto" 1700000000500000000` {
		t.Errorf("dead letter %+v", d)
	}
	if n := strings.Count(r.logs.String(), `msg="field type conflict`); n != 1 {
		t.Errorf("type conflict logged %d times, want once:\n%s", n, r.logs.String())
	}
	if l := r.logs.String(); !strings.Contains(l, "agent=observatory.ls240 feed=temperatures field=t_1 sent_type=float influxdb_type=integer") {
		t.Errorf("type conflict not logged with its names and types:\n%s", l)
	}
}

// TestDeadLetterBisect: when InfluxDB's message does not say which line
// it refused, the batch is bisected until the line is alone; the other
// lines are all stored.
func TestDeadLetterBisect(t *testing.T) {
	f := newFake(t, false)
	const poison = "x=777i"
	var stored []string
	f.script(func(_ int, r request) reply {
		if strings.Contains(r.Body, poison) {
			// The line as the server saw it differs from the one sent.
			return reply{Status: 400, Body: "partial write: unable to parse 'garbled': invalid number dropped=0"}
		}
		stored = append(stored, bodyLines(r.Body)...)
		return reply{}
	}, nil)
	cfg := testConfig(f)
	cfg.DeadLetterFile = filepath.Join(t.TempDir(), "dl", "dead.jsonl")
	cfg.BatchPoints = 10000
	m := msg("obs.b", "f", nil, field("x"))
	for i := 0; i < 1000; i++ {
		m.Blocks[0].Timestamps = append(m.Blocks[0].Timestamps, float64(i))
		m.Blocks[0].Fields[0].Values = append(m.Blocks[0].Fields[0].Values, feeds.Int(int64(i)))
	}
	r := start(t, cfg)
	<-r.Connected()
	r.Enqueue(m)
	waitFor(t, "the dead letter", func() bool { return r.Stats().DeadLettered == 1 })
	st := r.Stats()
	if st.Written != 999 || st.Rejected[publisher.ReasonUnparsable] != 1 || !st.Connected {
		t.Errorf("stats %+v", st)
	}
	if n := len(f.writeRequests()); n > 1+2*10 {
		t.Errorf("%d requests to isolate one line of 1000", n)
	}
	f.mu.Lock()
	n := len(stored)
	f.mu.Unlock()
	if n < 999 {
		t.Errorf("%d lines stored", n)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	dls := readDeadLetters(t, cfg.DeadLetterFile)
	if len(dls) != 1 || dls[0].Line != "obs.b,feed=f x=777i 777000000000" || dls[0].Reason != publisher.ReasonUnparsable ||
		!strings.Contains(dls[0].Error, "invalid number") {
		t.Errorf("dead letters %+v", dls)
	}
}

// TestDeadLetterTooLarge: a single point InfluxDB refuses as too large is
// dead-lettered; a dead-letter file works without a spool.
func TestDeadLetterTooLarge(t *testing.T) {
	f := newFake(t, false)
	f.script(func(int, request) reply { return reply{Status: 413, Body: "http: request body too large"} }, nil)
	cfg := testConfig(f)
	cfg.DeadLetterFile = filepath.Join(t.TempDir(), "dead.jsonl")
	r := start(t, cfg)
	r.Enqueue(msg("a", "f", []float64{1}, field("x", feeds.Int(1))))
	waitFor(t, "the drop", func() bool { return r.Stats().DeadLettered == 1 })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	dls := readDeadLetters(t, cfg.DeadLetterFile)
	if len(dls) != 1 || dls[0].Reason != publisher.ReasonTooLarge || dls[0].Agent != "a" || dls[0].Line != "a,feed=f x=1i 1000000000" {
		t.Errorf("dead letters %+v", dls)
	}
}

// TestDeadLetterRotation: past DeadLetterMaxBytes the file is renamed to
// .1 and a new one begun.
func TestDeadLetterRotation(t *testing.T) {
	f := newFake(t, false)
	f.script(func(int, request) reply {
		return reply{Status: 400, Body: `partial write: field type conflict: input field "x" on measurement "a" is type integer, already exists as type float dropped=1`}
	}, nil)
	cfg := testConfig(f)
	cfg.DeadLetterFile = filepath.Join(t.TempDir(), "dead.jsonl")
	cfg.DeadLetterMaxBytes = 1000
	r := start(t, cfg)
	<-r.Connected()
	for i := 0; i < 20; i++ {
		r.Enqueue(msg("a", "f", []float64{float64(i)}, field("x", feeds.Int(int64(i)))))
		waitFor(t, "the dead letter", func() bool { return r.Stats().DeadLettered == uint64(i+1) })
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	cur, old := readDeadLetters(t, cfg.DeadLetterFile), readDeadLetters(t, cfg.DeadLetterFile+".1")
	if len(old) == 0 || len(cur) == 0 || len(cur)+len(old) > 20 {
		t.Errorf("%d in the file, %d in .1", len(cur), len(old))
	}
	if fi, err := os.Stat(cfg.DeadLetterFile); err != nil || fi.Size() > 1000 {
		t.Errorf("file %v %v", fi.Size(), err)
	}
	if cur[len(cur)-1].Value != float64(19) {
		t.Errorf("the newest dead letter is not in the file: %+v", cur[len(cur)-1])
	}
}
