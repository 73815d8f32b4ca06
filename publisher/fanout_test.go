package publisher_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// TestFanOutOneOutputDown: with two outputs, one failing (503) or hanging
// does not delay the other, which receives every point at once; the
// failing one is degraded (named in the top-level reason), spools, and
// once its server is back writes every point exactly once and empties its
// spool.
func TestFanOutOneOutputDown(t *testing.T) {
	for _, mode := range []string{"503", "hang"} {
		t.Run(mode, func(t *testing.T) {
			f1 := newSwitchable(t, false)
			f2 := newSwitchable(t, mode == "503")
			// hang: the second server holds the writes until released.
			hold := make(chan struct{})
			var holding atomic.Bool
			release := sync.OnceFunc(func() { holding.Store(false); close(hold) })
			t.Cleanup(release) // before the servers close
			if mode == "hang" {
				holding.Store(true)
				f2.script(func(_ int, r request) reply {
					// The client timeout (30 s) is longer than the test: a
					// held write is answered 204 once released.
					f2.mu.Lock()
					f2.stored = append(f2.stored, bodyLines(r.Body)...)
					f2.mu.Unlock()
					if holding.Load() {
						return reply{Hold: hold}
					}
					return reply{}
				}, nil)
			}

			cfg := testConfig(f1.fakeInflux)
			cfg.SpoolDir = t.TempDir()
			second := cfg.OutputConfig
			second.Name = "second"
			second.URL = f2.srv.URL
			second.SpoolDir = t.TempDir()
			second.DeadLetterFile = ""
			second.Timeout = 30 * time.Second
			cfg.Outputs = []publisher.OutputConfig{second}
			r := start(t, cfg)
			waitConnected(t, r)

			want := enqueueAsync(t, r, 0, 50)
			if mode == "hang" {
				waitFor(t, "the held write", func() bool { return len(f2.writeRequests()) == 1 })
				want = append(want, enqueueAsync(t, r, 50, 50)...)
			}
			waitWithin(t, 5*time.Second, "the first output's points", func() bool {
				st := r.Stats()
				return len(f1.storedLines()) >= len(want) && len(st.Outputs) == 2 && st.Outputs[0].Written >= uint64(len(want))
			})
			if got := f1.storedLines(); !sameLines(got, want) {
				t.Errorf("first output stored %d lines, want the %d sent, each once", len(got), len(want))
			}

			var st publisher.Stats
			switch mode {
			case "503":
				waitFor(t, "the second output spooling", func() bool {
					st = r.Stats()
					return len(st.Outputs) == 2 && st.Outputs[1].Spooled == uint64(len(want)) && st.Outputs[1].PendingPoints == 0
				})
				if n := len(f2.storedLines()); n != 0 {
					t.Errorf("second server stored %d lines while down", n)
				}
				o1, o2 := st.Outputs[0], st.Outputs[1]
				if o1.Name != publisher.DefaultOutputName || o2.Name != "second" {
					t.Errorf("output names %q %q", o1.Name, o2.Name)
				}
				if !strings.Contains(o2.Target, f2.srv.URL) || !strings.Contains(o1.Target, f1.srv.URL) {
					t.Errorf("targets %q %q", o1.Target, o2.Target)
				}
				if o1.Written != uint64(len(want)) || o1.Degraded != "" || !o1.Connected || o1.Spooled != 0 {
					t.Errorf("first output: Written %d Degraded %q Connected %v Spooled %d",
						o1.Written, o1.Degraded, o1.Connected, o1.Spooled)
				}
				if o2.Written != 0 || o2.Connected || !strings.Contains(o2.Degraded, "HTTP 503") ||
					o2.SpoolPoints != int64(len(want)) || o2.FailedWrites == 0 {
					t.Errorf("second output: Written %d Connected %v Degraded %q SpoolPoints %d FailedWrites %d",
						o2.Written, o2.Connected, o2.Degraded, o2.SpoolPoints, o2.FailedWrites)
				}
				if st.Degraded != "second: "+o2.Degraded || !st.Connected || st.Written != uint64(len(want)) {
					t.Errorf("top level: Degraded %q (want %q) Connected %v Written %d",
						st.Degraded, "second: "+o2.Degraded, st.Connected, st.Written)
				}
				f2.setDown(false)
			case "hang":
				st = r.Stats()
				if len(st.Outputs) != 2 || st.Outputs[1].Written != 0 || st.Outputs[0].Written != uint64(len(want)) {
					t.Fatalf("while the second hangs: %+v", st.Outputs)
				}
				release()
			}

			waitFor(t, "the second output writing everything", func() bool {
				st = r.Stats()
				o2 := st.Outputs[1]
				return len(f2.storedLines()) >= len(want) && o2.Written+o2.Replayed >= uint64(len(want)) &&
					o2.SpoolPoints == 0 && o2.Degraded == "" && st.Degraded == ""
			})
			if got := f2.storedLines(); !sameLines(got, want) {
				t.Errorf("second output stored %d lines, want the %d sent, each once", len(got), len(want))
			}
			o2 := st.Outputs[1]
			if o2.Written+o2.Replayed != uint64(len(want)) || !o2.Connected || o2.PendingPoints != 0 || o2.DeadLettered != 0 {
				t.Errorf("second output after: Written %d + Replayed %d (want %d) Connected %v Pending %d DeadLettered %d",
					o2.Written, o2.Replayed, len(want), o2.Connected, o2.PendingPoints, o2.DeadLettered)
			}
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			if l := spooledLines(t, second.SpoolDir); len(l) != 0 {
				t.Errorf("second spool holds %d lines after the stop, want none", len(l))
			}
			if l := spooledLines(t, cfg.SpoolDir); len(l) != 0 {
				t.Errorf("first spool holds %d lines after the stop, want none", len(l))
			}
			if got := f1.storedLines(); !sameLines(got, want) {
				t.Errorf("first output stored %d lines in the end, want %d", len(got), len(want))
			}
		})
	}
}

// enqueueAsync enqueues points x=i at time i s for i in [from, from+n),
// one message each, from another goroutine, so that an Enqueue that
// blocked (it must not) would show as data not arriving in time rather
// than as a hung test; it returns their lines and fails the test if
// Enqueue refused one or did not return within 5 s.
func enqueueAsync(t *testing.T, r *running, from, n int) []string {
	t.Helper()
	var msgs []*feeds.Message
	var want []string
	for i := from; i < from+n; i++ {
		m := intMessage("obs.a", "f", float64(i), int64(i))
		msgs = append(msgs, m)
		want = append(want, encodeLines(m)...)
	}
	done := make(chan int, 1)
	go func() {
		refused := 0
		for _, m := range msgs {
			if !r.Enqueue(m) {
				refused++
			}
		}
		done <- refused
	}()
	select {
	case refused := <-done:
		if refused > 0 {
			t.Fatalf("Enqueue refused %d of %d messages", refused, n)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Enqueue blocked for 5 s")
	}
	return want
}

// TestFilter: only the messages of the agents matching Filter.Agents, and
// not of the feeds in ExcludeFeeds or agents in ExcludeAgents, are
// written; the points left out are counted as Excluded.
func TestFilter(t *testing.T) {
	f := newFake(t, false)
	cfg := testConfig(f)
	cfg.Filter = publisher.Filter{Agents: []string{"obs.acu*"}, ExcludeFeeds: []string{"obs.acu1.secret"},
		ExcludeAgents: []string{"obs.acu3"}}
	r := start(t, cfg)
	waitConnected(t, r)
	kept := []*feeds.Message{
		intMessage("obs.acu1", "f", 1, 1, 2),
		intMessage("obs.acu2", "secret", 1, 1, 2, 3),
		intMessage("obs.acu1x", "g", 1, 1),
	}
	left := []*feeds.Message{
		intMessage("obs.acu1", "secret", 1, 1, 2, 3, 4),
		intMessage("obs.other", "f", 1, 1, 2, 3, 4, 5),
		intMessage("obs.acu3", "f", 1, 1),
		intMessage("acu1", "f", 1, 1),
	}
	notRecorded := intMessage("obs.acu1", "f", 1, 7)
	notRecorded.Info.Record = false
	var want []string
	for i := range max(len(kept), len(left)) {
		if i < len(left) {
			r.Enqueue(left[i])
		}
		if i < len(kept) {
			want = append(want, encodeLines(kept[i])...)
			r.Enqueue(kept[i])
		}
	}
	r.Enqueue(notRecorded)
	waitFor(t, "the kept points", func() bool { return r.Stats().Written >= 6 })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if got := bodyLines(f.writtenBody()); !sameLines(got, want) {
		t.Errorf("written\n got: %q\nwant: %q", got, want)
	}
	st := r.Stats()
	if st.Received != 6 || st.Written != 6 || st.Excluded != 11 || st.Skipped != 1 || st.RejectedPoints != 0 {
		t.Errorf("Received %d (want 6) Written %d (want 6) Excluded %d (want 11) Skipped %d (want 1) RejectedPoints %d",
			st.Received, st.Written, st.Excluded, st.Skipped, st.RejectedPoints)
	}
	var feedsSeen []string
	for _, fs := range st.Feeds {
		feedsSeen = append(feedsSeen, fs.Agent+"/"+fs.Feed)
	}
	if wantFeeds := []string{"obs.acu1/f", "obs.acu1x/g", "obs.acu2/secret"}; !reflect.DeepEqual(feedsSeen, wantFeeds) {
		t.Errorf("feeds %v, want %v", feedsSeen, wantFeeds)
	}
}

// TestConfigValidateOutputs: New refuses outputs sharing a name or a
// spool directory, naming them, and an APIv2 output without a bucket.
func TestConfigValidateOutputs(t *testing.T) {
	dir := t.TempDir()
	base := func() publisher.Config {
		cfg := publisher.DefaultConfig()
		cfg.URL = "http://127.0.0.1:1"
		return cfg
	}
	out := func(name string) publisher.OutputConfig {
		return publisher.OutputConfig{Name: name, URL: "http://127.0.0.1:2"}
	}
	v2 := func(name, org, bucket string) publisher.OutputConfig {
		o := out(name)
		o.API, o.Org, o.Bucket = publisher.APIv2, org, bucket
		return o
	}
	cases := []struct {
		name string
		edit func(*publisher.Config)
		want []string // in the error; none: valid
	}{
		{"valid", func(c *publisher.Config) {
			c.SpoolDir = filepath.Join(dir, "a")
			o := out("second")
			o.SpoolDir = filepath.Join(dir, "b")
			c.Outputs = []publisher.OutputConfig{o, v2("v2", "org", "bucket")}
		}, nil},
		{"same name", func(c *publisher.Config) {
			c.Outputs = []publisher.OutputConfig{out("second"), out("second")}
		}, []string{`output "second": two outputs have that name`}},
		{"same name as the first", func(c *publisher.Config) {
			c.Outputs = []publisher.OutputConfig{out(publisher.DefaultOutputName)}
		}, []string{`output "influxdb": two outputs have that name`}},
		{"same spool directory", func(c *publisher.Config) {
			c.SpoolDir = filepath.Join(dir, "s")
			o := out("second")
			o.SpoolDir = filepath.Join(dir, "s") + "/"
			c.Outputs = []publisher.OutputConfig{o}
		}, []string{`outputs "influxdb" and "second" share the spool directory`}},
		{"same spool directory, extra outputs", func(c *publisher.Config) {
			o2, o3 := out("second"), out("third")
			o2.SpoolDir, o3.SpoolDir = filepath.Join(dir, "x"), filepath.Join(dir, ".", "x")
			c.Outputs = []publisher.OutputConfig{o2, o3}
		}, []string{`outputs "second" and "third" share the spool directory`}},
		{"v2 without bucket, first output", func(c *publisher.Config) {
			c.API, c.Org = publisher.APIv2, "org"
		}, []string{"bucket must not be empty"}},
		{"v2 without bucket, extra output", func(c *publisher.Config) {
			c.Outputs = []publisher.OutputConfig{v2("v2", "org", "")}
		}, []string{`output "v2": bucket must not be empty`}},
		{"extra output without a name", func(c *publisher.Config) {
			c.Outputs = []publisher.OutputConfig{out("")}
		}, []string{`output name "": must be`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base()
			c.edit(&cfg)
			p, err := publisher.New(cfg, nil)
			if len(c.want) == 0 {
				if err != nil || p == nil {
					t.Fatalf("New: %v", err)
				}
				if n := len(p.Stats().Outputs); n != 3 {
					t.Errorf("%d outputs in Stats, want 3", n)
				}
				return
			}
			if err == nil || p != nil {
				t.Fatalf("New = %v, %v; want an error", p, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
