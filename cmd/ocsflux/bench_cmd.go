package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ocsflux/ocsflux/internal/loadgen"
)

// benchCmd is `ocsflux bench`: the end-to-end load generator (package
// internal/loadgen).
type benchCmd struct {
	Router          string        `name:"router" placeholder:"URL" help:"WAMP WebSocket of the router the publisher subscribes on. Default: ws://127.0.0.1:8001/ws. Not with --spawn."`
	Realm           string        `name:"realm" default:"test_realm" placeholder:"REALM" help:"WAMP realm. Default: ${default}."`
	AddressRoot     string        `name:"address-root" default:"observatory" placeholder:"ROOT" help:"OCS address root: the agents publish on <ROOT>.bench-<run id>-<k>.feeds.<feed>. Default: ${default}."`
	InfluxURL       string        `name:"influx-url" default:"http://127.0.0.1:8086" placeholder:"URL" help:"InfluxDB the publisher writes to (queried only). With --spawn, a throwaway influxd is started when nothing answers there. Credentials: INFLUXDB_USERNAME and INFLUXDB_PASSWORD from the environment, if set. Default: ${default}."`
	Database        string        `name:"database" default:"ocs_feeds" placeholder:"NAME" help:"Database the publisher writes to. Default: ${default}."`
	Agents          int           `name:"agents" default:"8" placeholder:"K" help:"Simulated OCS agents (one WAMP session each). Default: ${default}."`
	Samples         int           `name:"samples" default:"10" placeholder:"N" help:"Samples (points) per feed message. Default: ${default}."`
	Fields          int           `name:"fields" default:"10" placeholder:"N" help:"Float fields per sample. Default: ${default}."`
	Mix             bool          `name:"mix" help:"Add an int, a bool and a string field to every sample."`
	Rates           []int64       `name:"rates" default:"1000,5000,20000,50000" sep:"," placeholder:"R" help:"Target total rates, points per second, one step each. Default: ${default}."`
	StepDuration    time.Duration `name:"step-duration" default:"10s" placeholder:"DURATION" help:"How long each step publishes. Default: ${default}."`
	Settle          time.Duration `name:"settle" default:"10s" placeholder:"DURATION" help:"Longest wait after a step for InfluxDB's count to reach the published count (it ends earlier when the count stops growing for 3s). Default: ${default}."`
	Poll            time.Duration `name:"poll" default:"20ms" placeholder:"DURATION" help:"Interval of the latency queries: the latency's resolution. Default: ${default}."`
	Warmup          time.Duration `name:"warmup" default:"30s" placeholder:"DURATION" help:"Longest wait before the first step for a probe from every agent to reach InfluxDB (the publisher connecting and recording). Default: ${default}."`
	PublisherPID    int           `name:"publisher-pid" placeholder:"PID" help:"The publisher's process id: report its CPU and RSS from /proc. Not with --spawn (which measures its own)."`
	JSON            bool          `name:"json" help:"Print one JSON document (parameters and every step's numbers) instead of the table."`
	Spawn           bool          `name:"spawn" help:"Start everything for the run on 127.0.0.1: an embedded router, an ocsflux publisher as a child process (measured), and a throwaway influxd when nothing answers at --influx-url."`
	PublisherBinary string        `name:"publisher-binary" placeholder:"PATH" help:"With --spawn: the ocsflux binary to run as the publisher. Default: this binary."`
	PublisherArgs   []string      `name:"publisher-arg" sep:"none" placeholder:"ARG" help:"With --spawn: an argument added to the publisher's command line (repeat the flag for more), e.g. --publisher-arg=--flush-interval=100ms."`
	Verbose         bool          `name:"verbose" help:"Log progress (and, with --spawn, the publisher's and router's info messages) on stderr."`
}

// Help is the command's detailed help.
func (c *benchCmd) Help() string {
	return "Runs K simulated OCS agents that publish recorded feed messages (the exact OCS event: one argument, " +
		"[message, feed_info], record true) through a WAMP router to a publisher that is already running " +
		"(ocsflux, or the Python InfluxDBAgent), paced by a ticker to each target total rate in turn, and " +
		"measures what reaches InfluxDB. Each step uses its own feed, r<rate>_s<step>, and each run its own " +
		"agents, bench-<run id>-<k>, so counts never mix. Per step it reports points published and found, " +
		"delivery %, the achieved publish rate, latency p50/p99/max from publish to queryable, and with " +
		"--publisher-pid (or --spawn) the publisher's CPU % of one core, CPU µs per point and largest RSS. " +
		"Latency: every sample's timestamp is its message's publish wall time, and InfluxDB is asked every " +
		"--poll for the newest timestamp per agent (SELECT last(...)); a message is queryable when the reply " +
		"of the first poll that reaches it arrives, so latencies are upper bounds with a resolution of " +
		"--poll plus one query round trip (printed). CPU comes from utime+stime in /proc/PID/stat (10 ms " +
		"resolution), RSS from VmRSS in /proc/PID/status. Exit status: 0 when the steps ran (whatever the " +
		"delivery), 1 when the router, InfluxDB or the publisher cannot be reached or no data arrives, 2 for " +
		"bad flags. The run takes about steps × (--step-duration + up to --settle). The bench's points stay " +
		"in the database (measurements <address-root>.bench-<run id>-<k>; with --spawn and an InfluxDB " +
		"already answering at --influx-url, there too): point --database at a scratch database."
}

// config is the load generator's configuration from the flags and the
// environment (credentials).
func (c *benchCmd) config(env *Env) loadgen.Config {
	cfg := loadgen.Defaults()
	if c.Router != "" {
		cfg.RouterURL = c.Router
	}
	cfg.Realm, cfg.AddressRoot = c.Realm, c.AddressRoot
	cfg.InfluxURL, cfg.Database = c.InfluxURL, c.Database
	cfg.Agents, cfg.Samples, cfg.Fields, cfg.Mix = c.Agents, c.Samples, c.Fields, c.Mix
	cfg.Rates = c.Rates
	cfg.StepDuration, cfg.Settle, cfg.Poll, cfg.Warmup = c.StepDuration, c.Settle, c.Poll, c.Warmup
	cfg.PublisherPID = c.PublisherPID
	if env != nil && env.LookupEnv != nil {
		if u, ok := env.LookupEnv("INFLUXDB_USERNAME"); ok && u != "" {
			cfg.Username = u
			cfg.Password, _ = env.LookupEnv("INFLUXDB_PASSWORD")
		}
	}
	return cfg
}

// Validate checks the flags (a usage error, exit status 2).
func (c *benchCmd) Validate() error {
	var errs []error
	if err := c.config(nil).Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Spawn {
		if c.Router != "" {
			errs = append(errs, errors.New("--router: not with --spawn, which starts its own router"))
		}
		if c.PublisherPID != 0 {
			errs = append(errs, errors.New("--publisher-pid: not with --spawn, which measures the publisher it starts"))
		}
	} else {
		if c.PublisherBinary != "" {
			errs = append(errs, errors.New("--publisher-binary: only with --spawn"))
		}
		if len(c.PublisherArgs) > 0 {
			errs = append(errs, errors.New("--publisher-arg: only with --spawn"))
		}
	}
	return joinUsage(errs)
}

// joinUsage joins usage errors into one line each separated by "; ", as
// kong prints one error line.
func joinUsage(errs []error) error {
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, strings.Split(e.Error(), "\n")...)
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}

// Run runs the bench and prints the report (also the steps completed when
// it is interrupted or fails half-way).
func (c *benchCmd) Run(ctx context.Context, env *Env) error {
	level := slog.LevelWarn
	if c.Verbose {
		level = slog.LevelInfo
	}
	// The log, the progress lines and (with --spawn) the publisher's output
	// share stderr.
	stderr := loadgen.SyncWriter(env.Stderr)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := c.config(env)
	cfg.Logger = logger
	if !c.Spawn {
		return c.run(ctx, env.Stdout, stderr, cfg, nil)
	}
	exe := c.PublisherBinary
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("--spawn: find this binary: %w (use --publisher-binary)", err)
		}
	}
	pubLevel := "warn"
	if c.Verbose {
		pubLevel = "info"
	}
	e := loadgen.Environment{
		Executable: exe, PublisherArgs: c.PublisherArgs,
		InfluxURL: c.InfluxURL, Database: c.Database, Realm: c.Realm, AddressRoot: c.AddressRoot,
		LogLevel: pubLevel, Output: stderr, Logger: logger,
	}
	return e.Run(ctx, func(ctx context.Context, t loadgen.Target) error {
		cfg.RouterURL, cfg.Realm, cfg.AddressRoot = t.RouterURL, t.Realm, t.AddressRoot
		cfg.InfluxURL, cfg.Database = t.InfluxURL, t.Database
		cfg.PublisherPID, cfg.RouterDrops = t.PublisherPID, t.RouterDrops
		return c.run(ctx, env.Stdout, stderr, cfg, &t.Info)
	})
}

func (c *benchCmd) run(ctx context.Context, stdout, stderr io.Writer, cfg loadgen.Config, spawned *loadgen.SpawnInfo) error {
	b, err := loadgen.New(cfg)
	if err != nil {
		return err
	}
	var total time.Duration
	for range cfg.Rates {
		total += cfg.StepDuration + cfg.Settle
	}
	fmt.Fprintf(stderr, "bench: run %s, %d step(s), at most about %s after the warm-up\n",
		b.RunID(), len(cfg.Rates), total)
	rep, runErr := b.Run(ctx)
	if rep != nil {
		rep.Params.Spawned = spawned
		var err error
		if c.JSON {
			err = rep.WriteJSON(stdout)
		} else {
			err = rep.WriteTable(stdout)
		}
		if err != nil {
			return errors.Join(runErr, fmt.Errorf("write report: %w", err))
		}
	}
	return runErr
}
