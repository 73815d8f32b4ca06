package loadgen_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	nxclient "github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents"
	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/agents/router"
	"github.com/ocsflux/ocsflux/internal/influxtest"
	"github.com/ocsflux/ocsflux/internal/loadgen"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startRouter runs an embedded router on a free loopback port until the
// test ends.
func startRouter(t *testing.T) *router.Router {
	t.Helper()
	r, err := router.New(router.Config{Listen: "127.0.0.1:0", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("router: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("router did not stop")
		}
	})
	select {
	case <-r.Ready():
	case err := <-done:
		t.Fatalf("router: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("router not ready")
	}
	return r
}

// startPublisher runs ocsflux's InfluxDB publisher in this process,
// recording from r into db, until the test ends or stop is called; stop
// returns once the publisher has left the router.
func startPublisher(t *testing.T, r *router.Router, influxURL, db string) (stop func()) {
	t.Helper()
	opts := influxdb.Defaults()
	opts.URL, opts.Database, opts.FlushInterval = influxURL, db, 100*time.Millisecond
	a, err := influxdb.New(influxdb.Config{
		Agent: agents.Config{AddressRoot: "observatory", InstanceID: "influxagent", URL: r.WSURL(),
			Realm: r.Realm(), ResponseTimeout: 3 * time.Second, Logger: quietLogger()},
		Options:      opts,
		LookupEnv:    func(string) (string, bool) { return "", false },
		ConnectRetry: 100 * time.Millisecond,
		RetryMin:     100 * time.Millisecond,
		RetryMax:     300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("publisher: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("publisher did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// capture records, from a subscriber beside the publisher, the first feed
// event of each bench topic, as JSON.
type capture struct {
	mu     sync.Mutex
	events map[string]string // topic -> JSON of [args, kwargs]
}

func subscribe(t *testing.T, r *router.Router) *capture {
	t.Helper()
	c, err := r.ConnectLocal(nxclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	cp := &capture{events: map[string]string{}}
	err = c.Subscribe("observatory..feeds.", func(ev *wamp.Event) {
		topic := fmt.Sprint(ev.Details["topic"]) // a wamp.URI
		b, err := json.Marshal([]any{ev.Arguments, ev.ArgumentsKw})
		if err != nil {
			t.Errorf("event on %s: %v", topic, err)
			return
		}
		cp.mu.Lock()
		defer cp.mu.Unlock()
		if _, ok := cp.events[topic]; !ok {
			cp.events[topic] = string(b)
		}
	}, wamp.Dict{"match": "wildcard"})
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func (c *capture) get(topic string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.events[topic]
	return s, ok
}

// TestRunEndToEnd runs two short steps through a real router and
// ocsflux's publisher (in this process, so the test's own PID is the
// publisher's) into a real influxd, and checks every figure of the report
// against what must hold at such low rates, the wire shape of the events,
// and InfluxDB's contents directly.
func TestRunEndToEnd(t *testing.T) {
	srv := influxtest.Start(t)
	r := startRouter(t)
	const db = "benchdb"
	startPublisher(t, r, srv.URL, db)
	events := subscribe(t, r)

	cfg := loadgen.Defaults()
	cfg.RouterURL, cfg.Realm, cfg.AddressRoot = r.WSURL(), r.Realm(), "observatory"
	cfg.InfluxURL, cfg.Database = srv.URL, db
	cfg.Agents, cfg.Mix = 2, true
	cfg.Rates = []int64{200, 1000}
	cfg.StepDuration = time.Second
	cfg.PublisherPID = os.Getpid()
	cfg.RouterDrops = func() uint64 { return r.Stats().DroppedEvents }
	cfg.Logger = quietLogger()
	b, err := loadgen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	rep, err := b.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rep.Steps) != 2 {
		t.Fatalf("%d steps, want 2", len(rep.Steps))
	}
	for i, st := range rep.Steps {
		rate := cfg.Rates[i]
		wantMsgs := loadgen.MessagesDue(rate, cfg.Samples, cfg.StepDuration)
		if st.Step != i+1 || st.TargetRate != rate || st.Feed != loadgen.StepFeed(rate, i+1) {
			t.Errorf("step %d: identity %d %d %s", i+1, st.Step, st.TargetRate, st.Feed)
		}
		if st.Messages != wantMsgs || st.PointsPublished != wantMsgs*int64(cfg.Samples) {
			t.Errorf("step %d: published %d messages, %d points; want %d, %d (notes %v)",
				i+1, st.Messages, st.PointsPublished, wantMsgs, wantMsgs*int64(cfg.Samples), st.Notes)
		}
		if st.PointsFound != st.PointsPublished || st.DeliveryPct != 100 {
			t.Errorf("step %d: found %d of %d (%.2f%%), want all", i+1, st.PointsFound, st.PointsPublished, st.DeliveryPct)
		}
		if !(st.AchievedRate > 0) || !(st.PublishS >= 1) {
			t.Errorf("step %d: achieved rate %g over %g s", i+1, st.AchievedRate, st.PublishS)
		}
		l := st.Latency
		if l.P50MS == nil || l.P99MS == nil || l.MaxMS == nil {
			t.Errorf("step %d: latency missing: %+v", i+1, l)
		} else if !(*l.P50MS > 0 && *l.P50MS <= *l.P99MS && *l.P99MS <= *l.MaxMS) {
			t.Errorf("step %d: latency p50 %g p99 %g max %g: want 0 < p50 <= p99 <= max", i+1, *l.P50MS, *l.P99MS, *l.MaxMS)
		}
		if int64(l.MessagesSeen) != st.Messages || l.MessagesUnseen != 0 || l.Polls == 0 || l.PollErrors != 0 {
			t.Errorf("step %d: latency saw %d of %d messages (%d unseen) in %d polls (%d errors)",
				i+1, l.MessagesSeen, st.Messages, l.MessagesUnseen, l.Polls, l.PollErrors)
		}
		if l.ResolutionMS < 20 {
			t.Errorf("step %d: resolution %g ms, want at least the 20 ms poll", i+1, l.ResolutionMS)
		}
		if st.CPUPercent == nil || *st.CPUPercent < 0 || st.CPUUsPerPoint == nil || *st.CPUUsPerPoint < 0 {
			t.Errorf("step %d: CPU not measured: %v %v (notes %v)", i+1, st.CPUPercent, st.CPUUsPerPoint, st.Notes)
		}
		if st.RSSMaxMiB == nil || *st.RSSMaxMiB < 1 {
			t.Errorf("step %d: RSS %v, want this process's (at least 1 MiB)", i+1, st.RSSMaxMiB)
		}
		if st.RouterDroppedEvents == nil || *st.RouterDroppedEvents != 0 {
			t.Errorf("step %d: router dropped %v events, want 0", i+1, st.RouterDroppedEvents)
		}
		if len(st.Notes) != 0 {
			t.Errorf("step %d: notes %v", i+1, st.Notes)
		}

		// InfluxDB itself: every agent's share, on the step's feed.
		var total int64
		for k := range cfg.Agents {
			m := loadgen.AgentAddress("observatory", b.RunID(), k)
			rows := srv.Query(t, db, fmt.Sprintf(`SELECT count("f00") FROM %q WHERE "feed" = '%s'`, m, st.Feed))
			if len(rows) != 1 {
				t.Errorf("step %d: %s: %v", i+1, m, rows)
				continue
			}
			n, _ := rows[0][1].(json.Number).Int64()
			if want := loadgen.AgentShare(wantMsgs, k, cfg.Agents) * int64(cfg.Samples); n != want {
				t.Errorf("step %d: %s holds %d points, want %d", i+1, m, n, want)
			}
			total += n
		}
		if total != st.PointsFound {
			t.Errorf("step %d: InfluxDB holds %d points, the report says %d", i+1, total, st.PointsFound)
		}
	}

	// --mix: the int, bool and string fields keep their types through the
	// publisher.
	m := loadgen.AgentAddress("observatory", b.RunID(), 0)
	types := map[string]string{}
	for _, row := range srv.Query(t, db, fmt.Sprintf(`SHOW FIELD KEYS FROM %q`, m)) {
		types[fmt.Sprint(row[0])] = fmt.Sprint(row[1])
	}
	for field, want := range map[string]string{"f00": "float", "f09": "float", "count": "integer", "ok": "boolean", "mode": "string"} {
		if types[field] != want {
			t.Errorf("field %s is %q in InfluxDB, want %s (all: %v)", field, types[field], want, types)
		}
	}

	// The wire: one argument, the pair [message, feed_info].
	topic := m + ".feeds." + rep.Steps[0].Feed
	ev, ok := events.get(topic)
	if !ok {
		t.Fatalf("the subscriber saw no event on %s", topic)
	}
	checkEventShape(t, ev, m, rep.Steps[0].Feed, cfg.Samples, cfg.Fields)

	if rep.Params.PublisherPID == nil || *rep.Params.PublisherPID != os.Getpid() || rep.CPUMethod == "" {
		t.Errorf("params: pid %v, cpu method %q", rep.Params.PublisherPID, rep.CPUMethod)
	}
}

// TestRunWithLoss: a step whose points never reach InfluxDB (the
// publisher is gone) still runs to the end and is reported, with
// delivery 0 % and no latency figures, and Run returns no error.
func TestRunWithLoss(t *testing.T) {
	srv := influxtest.Start(t)
	r := startRouter(t)
	const db = "lossdb"
	stopPublisher := startPublisher(t, r, srv.URL, db)

	cfg := loadgen.Defaults()
	cfg.RouterURL, cfg.InfluxURL, cfg.Database = r.WSURL(), srv.URL, db
	cfg.Agents, cfg.Rates, cfg.StepDuration, cfg.Settle = 1, []int64{100}, time.Second, time.Second
	cfg.Logger = quietLogger()
	// RouterDrops is read once before the step starts publishing, after the
	// warm-up: the moment to take the publisher away.
	cfg.RouterDrops = func() uint64 {
		stopPublisher()
		return r.Stats().DroppedEvents
	}
	b, err := loadgen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	rep, err := b.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v (losses are a result, not an error)", err)
	}
	if len(rep.Steps) != 1 {
		t.Fatalf("%d steps, want 1", len(rep.Steps))
	}
	st := rep.Steps[0]
	if st.PointsPublished != 100 || st.PointsFound != 0 || st.DeliveryPct != 0 {
		t.Errorf("published %d, found %d (%.1f%%); want 100, 0, 0%%", st.PointsPublished, st.PointsFound, st.DeliveryPct)
	}
	l := st.Latency
	if l.P50MS != nil || l.MessagesSeen != 0 || l.MessagesUnseen != 10 {
		t.Errorf("latency %+v: want no figures, 10 messages unseen", l)
	}
	if !slices.ContainsFunc(st.Notes, func(n string) bool { return strings.Contains(n, "10 messages were never seen") }) {
		t.Errorf("notes %v: want the unseen messages noted", st.Notes)
	}
	// The wait for the count ended at --settle, not before.
	if st.SettleS < 1 {
		t.Errorf("settled after %g s, want the whole 1 s --settle", st.SettleS)
	}
}

// checkEventShape checks one captured event, JSON [args, kwargs], against
// OCS's recorded-feed event (spec §6).
func checkEventShape(t *testing.T, ev, agentAddr, feed string, samples, fields int) {
	t.Helper()
	var got []json.RawMessage
	if err := json.Unmarshal([]byte(ev), &got); err != nil || len(got) != 2 {
		t.Fatalf("event %s: %v", ev, err)
	}
	if kw := string(got[1]); kw != "null" && kw != "{}" {
		t.Errorf("kwargs %s, want none", kw)
	}
	var args [][2]json.RawMessage
	if err := json.Unmarshal(got[0], &args); err != nil || len(args) != 1 {
		t.Fatalf("args %s: want exactly one argument, the pair [message, feed_info] (%v)", got[0], err)
	}
	var info map[string]any
	if err := json.Unmarshal(args[0][1], &info); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range info {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"address", "agent_address", "agent_class", "agg_params", "feed_name", "record", "session_id"}; !slices.Equal(keys, want) {
		t.Errorf("feed_info keys %v, want %v", keys, want)
	}
	if info["record"] != true || info["agent_address"] != agentAddr || info["feed_name"] != feed ||
		info["address"] != agentAddr+".feeds."+feed {
		t.Errorf("feed_info %v", info)
	}
	if sid, _ := info["session_id"].(string); !strings.Contains(sid, ".") {
		t.Errorf("session_id %v, want Python's str(time.time())", info["session_id"])
	}
	var msg map[string]struct {
		BlockName  string           `json:"block_name"`
		Data       map[string][]any `json:"data"`
		Timestamps []float64        `json:"timestamps"`
		Extra      map[string]any   `json:"-"`
	}
	if err := json.Unmarshal(args[0][0], &msg); err != nil {
		t.Fatalf("message %s: %v", args[0][0], err)
	}
	blk, ok := msg[loadgen.BlockName]
	if len(msg) != 1 || !ok || blk.BlockName != loadgen.BlockName {
		t.Fatalf("message %s: want one block %q", args[0][0], loadgen.BlockName)
	}
	if len(blk.Timestamps) != samples || len(blk.Data) != fields+3 {
		t.Errorf("block: %d timestamps, %d fields; want %d, %d", len(blk.Timestamps), len(blk.Data), samples, fields+3)
	}
	for f, v := range blk.Data {
		if len(v) != samples {
			t.Errorf("field %s: %d values, want %d", f, len(v), samples)
		}
	}
	now := float64(time.Now().UnixNano()) / 1e9
	for i, ts := range blk.Timestamps {
		if i > 0 && !(ts > blk.Timestamps[i-1]) {
			t.Errorf("timestamps not increasing: %v", blk.Timestamps)
		}
		if ts < now-120 || ts > now+1 {
			t.Errorf("timestamp %f is not a recent publish time (now %f)", ts, now)
		}
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestRunSetupErrors: what cannot be reached is a SetupError that says
// what and where, before any step.
func TestRunSetupErrors(t *testing.T) {
	srv := influxtest.Start(t)
	r := startRouter(t) // with no publisher
	base := loadgen.Defaults()
	base.RouterURL, base.InfluxURL, base.Database = r.WSURL(), srv.URL, "nopub"
	base.Agents, base.Rates, base.StepDuration = 2, []int64{100}, time.Second
	base.Logger = quietLogger()
	closed := closedAddr(t)
	for _, c := range []struct {
		name string
		edit func(*loadgen.Config)
		want string
	}{
		{"influxdb down", func(c *loadgen.Config) { c.InfluxURL = "http://" + closed }, "InfluxDB at http://" + closed + " does not answer"},
		{"router down", func(c *loadgen.Config) { c.RouterURL = "ws://" + closed + "/ws" }, "connect to router ws://" + closed + "/ws"},
		{"no such pid", func(c *loadgen.Config) { c.PublisherPID = 1<<22 + 4321 }, "--publisher-pid"},
		{"no publisher", func(c *loadgen.Config) { c.Warmup = time.Second },
			"no bench data reached InfluxDB " + srv.URL + " database nopub within --warmup 1s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			c.edit(&cfg)
			b, err := loadgen.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			rep, err := b.Run(ctx)
			var se *loadgen.SetupError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Run() = %v, want a SetupError containing %q", err, c.want)
			}
			if rep != nil {
				t.Errorf("a report after a setup failure: %+v", rep)
			}
		})
	}
}
