package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/ocsflux/ocsflux/agents"
	"github.com/ocsflux/ocsflux/agents/client"
	"github.com/ocsflux/ocsflux/agents/fakedata"
	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/agents/router"
	"github.com/ocsflux/ocsflux/internal/influxd"
)

// demoCmd runs a whole OCS chain in one process: an embedded router, two
// FakeDataAgents and the InfluxDB publisher, writing to InfluxDB.
type demoCmd struct {
	InfluxURL   string        `name:"influx-url" default:"http://127.0.0.1:8086" placeholder:"URL" help:"InfluxDB to write to. When nothing answers there and influxd is installed, a throwaway influxd is started on a free loopback port and removed at the end."`
	Database    string        `name:"database" default:"ocs_feeds" placeholder:"NAME" help:"Database to write to."`
	Duration    time.Duration `name:"duration" default:"0s" placeholder:"DURATION" help:"Stop after this long (0: run until Ctrl-C)."`
	Channels    int           `name:"num-channels" default:"4" placeholder:"N" help:"Channels of each fake-data agent."`
	SampleRate  float64       `name:"sample-rate" default:"10" placeholder:"HZ" help:"Samples per second of each fake-data agent."`
	Listen      string        `name:"listen" default:"127.0.0.1:0" placeholder:"HOST:PORT" help:"Address of the embedded router (default: a free loopback port)."`
	Verbose     bool          `name:"verbose" help:"Log at info level (default: warnings only, so the status line stays readable)."`
	AddressRoot string        `name:"address-root" default:"observatory" hidden:""`
}

// Help is the command's detailed help.
func (c *demoCmd) Help() string {
	return "Starts, in this process, an embedded WAMP router, two FakeDataAgents (fake-data1, " +
		"fake-data2, acquiring) and the InfluxDB publisher (influxagent, recording), prints a status " +
		"line every second, and at the end (Ctrl-C or --duration) stops everything cleanly, queries " +
		"InfluxDB to show the data landed, and prints the Grafana data-source settings. " +
		"Exit status 0 when data from both fake agents is in InfluxDB."
}

// Validate checks the flags (a usage error, exit status 2).
func (c *demoCmd) Validate() error {
	switch {
	case c.Duration < 0:
		return fmt.Errorf("--duration %s: must not be negative", c.Duration)
	case c.Channels < 1:
		return fmt.Errorf("--num-channels %d: at least 1", c.Channels)
	case !(c.SampleRate > 0):
		return fmt.Errorf("--sample-rate %g: must be positive", c.SampleRate)
	}
	u, err := url.Parse(c.InfluxURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--influx-url %q: want http(s)://host:port", c.InfluxURL)
	}
	return nil
}

// demoAgents are the fake agents' instance-ids.
var demoAgents = [...]string{"fake-data1", "fake-data2"}

// Run runs the demo.
func (c *demoCmd) Run(ctx context.Context, env *Env) error {
	level := slog.LevelWarn
	if c.Verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	out := env.Stdout
	if c.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Duration)
		defer cancel()
	}

	influxURL, stopInflux, err := c.influx(ctx, out, logger)
	if err != nil {
		return err
	}
	defer stopInflux()

	rt, err := router.New(router.Config{Listen: c.Listen, AddressRoot: c.AddressRoot,
		Logger: logger.With("component", "router")})
	if err != nil {
		return err
	}
	// The router outlives the agents: it stops after they have left.
	stopRouter, err := rt.Start()
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	defer stopRouter()
	fmt.Fprintf(out, "router:   %s (WebSocket), %s (HTTP bridge)\n", rt.WSURL(), rt.CallURL())

	agentCtx, stopAgents := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errs := make(chan error, len(demoAgents)+1)
	start := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(agentCtx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				stopAgents()
			}
		}()
	}
	base := agents.Config{AddressRoot: c.AddressRoot, URL: rt.WSURL(), Realm: rt.Realm()}
	for _, id := range demoAgents {
		cfg := base
		cfg.InstanceID, cfg.Logger = id, logger
		opts := fakedata.Defaults()
		opts.Mode, opts.NumChannels, opts.SampleRate = "acq", c.Channels, c.SampleRate
		a, err := fakedata.New(fakedata.Config{Agent: cfg, Options: opts})
		if err != nil {
			stopAgents()
			return err
		}
		start(id, a.Run)
	}
	pubCfg := base
	pubCfg.InstanceID, pubCfg.Logger = "influxagent", logger
	opts := influxdb.Defaults()
	opts.URL, opts.Database = influxURL, c.Database
	// The spool, as in production, in a directory removed at the end.
	spoolDir, err := os.MkdirTemp("", "ocsflux-demo-spool-")
	if err != nil {
		stopAgents()
		return err
	}
	defer os.RemoveAll(spoolDir)
	opts.SpoolDir = spoolDir
	pub, err := newInfluxDBAgent(pubCfg, opts, env.LookupEnv)
	if err != nil {
		stopAgents()
		return err
	}
	start("influxagent", pub.Run)
	fmt.Fprintf(out, "agents:   observatory.fake-data1, observatory.fake-data2 (%d channels at %g Hz), observatory.influxagent\n",
		c.Channels, c.SampleRate)
	if c.Duration > 0 {
		fmt.Fprintf(out, "running for %s (Ctrl-C stops earlier)\n", c.Duration)
	} else {
		fmt.Fprintln(out, "running until Ctrl-C")
	}

	status := &client.HTTP{URL: rt.CallURL(), Address: c.AddressRoot + ".influxagent"}
	c.statusLoop(ctx, out, status)

	fmt.Fprintln(out, "\nstopping: agents first (the publisher writes what it holds), then the router")
	stopAgents()
	wg.Wait()
	close(errs)
	var runErr error
	for err := range errs {
		runErr = errors.Join(runErr, err)
	}
	if runErr != nil {
		return runErr
	}
	return c.summary(out, influxURL)
}

// influx returns the InfluxDB URL to use, starting a throwaway influxd when
// nothing answers at --influx-url.
func (c *demoCmd) influx(ctx context.Context, out io.Writer, logger *slog.Logger) (string, func(), error) {
	if err := influxd.Ping(ctx, c.InfluxURL, 2*time.Second); err == nil {
		fmt.Fprintf(out, "influxdb: %s (already running)\n", c.InfluxURL)
		return c.InfluxURL, func() {}, nil
	}
	if _, err := exec.LookPath("influxd"); err != nil {
		return "", nil, fmt.Errorf("no InfluxDB answers at %s and influxd is not installed: "+
			"install the Debian package (as root: apt-get install -y influxdb; `make demo` does this) "+
			"or pass --influx-url", c.InfluxURL)
	}
	fmt.Fprintf(out, "influxdb: nothing answers at %s; starting a throwaway influxd\n", c.InfluxURL)
	srv, err := influxd.Start(context.WithoutCancel(ctx), influxd.Options{})
	if err != nil {
		return "", nil, err
	}
	logger.Info("throwaway influxd started", "url", srv.URL)
	fmt.Fprintf(out, "influxdb: %s (throwaway: its data is removed at the end)\n", srv.URL)
	return srv.URL, srv.Stop, nil
}

// statusLoop prints one status line a second from the record session's
// data, read over the HTTP bridge as an operator's client would, until ctx
// is done. On a terminal the line is rewritten in place.
func (c *demoCmd) statusLoop(ctx context.Context, out io.Writer, status *client.HTTP) {
	tty := isTerminal(out)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastIn float64
	lastT := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		callCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		reply, err := status.Ops(callCtx, client.ActionStatus, "record", nil, nil)
		cancel()
		line := ""
		if err != nil {
			line = "status: " + err.Error()
		} else {
			d := mapOf(reply.Session["data"])
			now := time.Now()
			in := num(d["points_received"])
			delta := in - lastIn
			if delta < 0 { // a new record session: its counters start at 0
				delta = in
			}
			rate := delta / now.Sub(lastT).Seconds()
			lastIn, lastT = in, now
			line = fmt.Sprintf("record %-8s in %7.0f pts/s | received %8.0f | written %8.0f | pending %6.0f | spooled %8.0f B | last write %6.1f ms",
				reply.Session["status"], rate, in, num(d["points_written"]), num(d["points_pending"]),
				num(d["spool_bytes"]), 1000*num(d["last_write_latency_s"]))
			if deg, _ := reply.Session["degraded"].(bool); deg {
				line += " | DEGRADED: " + fmt.Sprint(d["degraded_reason"])
			}
		}
		if tty {
			fmt.Fprintf(out, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(out, line)
		}
	}
}

// summary proves the data landed: one InfluxQL query per fake agent.
func (c *demoCmd) summary(out io.Writer, influxURL string) error {
	fmt.Fprintln(out, "\nwhat is in InfluxDB:")
	var missing []string
	for _, id := range demoAgents {
		m := c.AddressRoot + "." + id
		q := fmt.Sprintf(`SELECT count("channel_00") FROM %q WHERE "feed" = 'false_temperatures'`, m)
		n, err := countQuery(influxURL, c.Database, q)
		if err != nil {
			return fmt.Errorf("query InfluxDB: %w", err)
		}
		fmt.Fprintf(out, "  > %s\n    %d points\n", q, n)
		if n == 0 {
			missing = append(missing, m)
		}
	}
	fmt.Fprintf(out, `
Grafana data source (Connections > Data sources > InfluxDB):
  Query language: InfluxQL
  URL:            %s   (from a Grafana container on ocs-net: http://influxdb:8086)
  Database:       %s
  Measurements are agent addresses (observatory.fake-data1), tag "feed" the feed name,
  fields the channels, e.g. SELECT mean("channel_00") FROM "observatory.fake-data1"
  WHERE $timeFilter GROUP BY time($__interval)
`, influxURL, c.Database)
	if len(missing) > 0 {
		return fmt.Errorf("no points in InfluxDB from %s", strings.Join(missing, ", "))
	}
	return nil
}

// countQuery runs a `SELECT count(...)` and returns the count (0 when the
// series does not exist).
func countQuery(base, db, q string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := strings.TrimRight(base, "/") + "/query?" + url.Values{"db": {db}, "q": {q}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return parseCount(body)
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// num reads a JSON number (float64 or an integer type) as float64.
func num(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	case uint64:
		return float64(n)
	case int:
		return float64(n)
	}
	return 0
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// parseCount reads the count of a `SELECT count(...)` reply of InfluxDB's
// /query: results[0].series[0].values[0][1], 0 when there is no series.
func parseCount(body []byte) (int64, error) {
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
			Err string `json:"error"`
		} `json:"results"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return 0, fmt.Errorf("decode query reply: %w", err)
	}
	if len(r.Results) == 0 {
		return 0, nil
	}
	if r.Results[0].Err != "" {
		return 0, errors.New(r.Results[0].Err)
	}
	if len(r.Results[0].Series) == 0 || len(r.Results[0].Series[0].Values) == 0 ||
		len(r.Results[0].Series[0].Values[0]) < 2 {
		return 0, nil
	}
	n, ok := r.Results[0].Series[0].Values[0][1].(json.Number)
	if !ok {
		return 0, fmt.Errorf("count is %v, not a number", r.Results[0].Series[0].Values[0][1])
	}
	return n.Int64()
}
