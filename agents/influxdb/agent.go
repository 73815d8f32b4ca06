package influxdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocsflux/ocsflux/agents"
	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// OpRecord is the name of the agent's only operation, the process that
// writes every recorded feed of the realm to InfluxDB.
const OpRecord = "record"

// stopMargin is how much longer than Options.ShutdownTimeout the agent
// runtime waits for record at shutdown when Config.Agent.StopTimeout is not
// set: record's final flush is bounded by ShutdownTimeout, plus the time to
// stop intake and update the session.
const stopMargin = 2 * time.Second

// Config configures an InfluxDBAgent.
type Config struct {
	// Agent configures the OCS agent runtime (address, router, realm,
	// logger, ...). AgentClass may be empty (it is set to AgentClass, or
	// AgentClassV2 with Options.V2) or must be the class Options.V2 says.
	// A zero StopTimeout becomes
	// Options.ShutdownTimeout + 2 s, so that a shutdown waits for record's
	// final flush.
	Agent agents.Config
	// Options are the agent's own options; start from Defaults().
	Options Options
	// LookupEnv reads the credential variables (INFLUXDB_USERNAME, ...,
	// see CredentialVariables; with Options.V2 the INFLUXDB_V2_* of
	// V2Variables) each time record starts. nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// ReadFile reads the credential files (the _FILE variables, the
	// --output token_file=, ...) each time record starts. nil means
	// os.ReadFile.
	ReadFile func(string) ([]byte, error)

	// ConnectRetry, RetryMin and RetryMax tune the publisher's pause
	// between start-up attempts and the backoff between write retries
	// (zero: the publisher's defaults, 1 s, 1 s and 30 s). They are not
	// command-line options; tests and the demo shorten them.
	ConnectRetry time.Duration
	RetryMin     time.Duration
	RetryMax     time.Duration
}

// Validate reports what is wrong with c (the runtime config is checked by
// New through agents.New).
func (c Config) Validate() error {
	var errs []error
	if c.Agent.AgentClass != "" && c.Agent.AgentClass != c.Options.class() {
		errs = append(errs, fmt.Errorf("agent class %q: the InfluxDB publisher with these options is %q", c.Agent.AgentClass, c.Options.class()))
	}
	if err := c.Options.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"connect retry", c.ConnectRetry}, {"retry min", c.RetryMin}, {"retry max", c.RetryMax}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// Agent is the InfluxDB publisher agent (OCS's InfluxDBAgent): an OCS agent
// with the process record and the feeds heartbeat and ocsflux_stats, which
// subscribes to every feed of the realm. Create it with New and run it with
// Run.
type Agent struct {
	rt        *agents.Agent
	opts      Options
	lookupEnv func(string) (string, bool)
	readFile  func(string) ([]byte, error)
	tune      Config // ConnectRetry, RetryMin, RetryMax
	stats     *agents.Feed
	sub       *agents.Subscription
	log       *slog.Logger

	// rec is the running record session's intake, nil while record is not
	// running (the Python agent's recording flag). The feed handler loads
	// it; record stores and clears it.
	rec atomic.Pointer[recording]
	// ignored counts feed events that arrived while record was not
	// running.
	ignored atomic.Uint64

	// fast decodes msgpack feed events straight into messages (see
	// onEvent); fastMu keeps two connections' receive goroutines (a
	// reconnect while a handler still runs) from sharing it.
	fastMu sync.Mutex
	fast   feeds.MsgpackFeedDecoder
}

// New checks cfg and returns an agent with its op, feed and subscription
// registered. It starts nothing; call Run.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("influxdb: %w", err)
	}
	acfg := cfg.Agent
	acfg.AgentClass = cfg.Options.class()
	if acfg.StopTimeout == 0 {
		acfg.StopTimeout = cfg.Options.ShutdownTimeout + stopMargin
	}
	if acfg.Logger == nil {
		acfg.Logger = slog.Default()
	}
	rt, err := agents.New(acfg)
	if err != nil {
		return nil, fmt.Errorf("influxdb: %w", err)
	}
	a := &Agent{
		rt:        rt,
		opts:      cfg.Options,
		lookupEnv: cfg.LookupEnv,
		readFile:  cfg.ReadFile,
		tune:      cfg,
		log:       acfg.Logger.With("agent", rt.Address()),
	}
	if a.lookupEnv == nil {
		a.lookupEnv = os.LookupEnv
	}
	if a.readFile == nil {
		a.readFile = os.ReadFile
	}
	a.stats, err = rt.RegisterFeed(agents.FeedSpec{
		Name:      StatsFeed,
		Record:    true,
		AggParams: map[string]any{"exclude_aggregator": true},
	})
	if err != nil {
		return nil, fmt.Errorf("influxdb: %w", err)
	}
	err = rt.RegisterProcess(agents.OpSpec{
		Name:      OpRecord,
		Run:       a.record,
		Params:    []agents.Param{{Key: "test_mode", Type: agents.Bool, Default: false, HasDefault: true}},
		Docstring: agents.Doc(recordDoc),
		Blocking:  true,
		Startup:   cfg.Options.InitialState == "record",
	})
	if err != nil {
		return nil, fmt.Errorf("influxdb: %w", err)
	}
	a.sub, err = rt.Subscribe(acfg.AddressRoot+"..feeds.", agents.MatchWildcard, a.onEvent, agents.RawMsgpack())
	if err != nil {
		return nil, fmt.Errorf("influxdb: %w", err)
	}
	return a, nil
}

// Run connects the agent and keeps it on the realm until ctx is cancelled
// (record is then stopped with its final flush); see agents.Agent.Run.
// With --on-spool-error exit (the default), a spool directory that cannot
// be used is an error returned at once, before anything is contacted.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.checkSpool(); err != nil {
		return err
	}
	return a.rt.Run(ctx)
}

// checkSpool checks that the spool directory can be used (and, with
// --output, each output's), unless --on-spool-error memory.
func (a *Agent) checkSpool() error {
	if a.opts.SpoolDir == "" || a.opts.OnSpoolError == SpoolErrorMemory {
		return nil
	}
	dirs := []string{a.opts.SpoolDir}
	for _, s := range a.opts.Outputs {
		if spec, err := ParseOutput(s); err == nil {
			dirs = append(dirs, spec.spoolDir(a.opts.SpoolDir))
		}
	}
	for _, d := range dirs {
		if err := publisher.ProbeDir(d); err != nil {
			return fmt.Errorf("spool directory %s cannot be used (--on-spool-error memory records without it): %w", d, err)
		}
	}
	return nil
}

// Address returns the agent's address, <address_root>.<instance-id>.
func (a *Agent) Address() string { return a.rt.Address() }

// Runtime returns the underlying OCS agent. Do not register ops on it.
func (a *Agent) Runtime() *agents.Agent { return a.rt }

// Ignored counts the feed events (of any feed, recorded or not) that
// arrived while record was not running and were therefore discarded, as
// the Python agent discards them.
func (a *Agent) Ignored() uint64 { return a.ignored.Load() }

// Received counts the feed events that reached the agent's subscription.
func (a *Agent) Received() uint64 { return a.sub.Received() }

// onEvent handles one event of <address_root>..feeds. on the WAMP receive
// goroutine. It never blocks: it decodes the event and hands it to the
// running record session's publisher, whose Enqueue only encodes.
//
// On a msgpack connection the event arrives undecoded (ev.Raw) and
// feeds.MsgpackFeedDecoder decodes it straight into a message, which is
// what DecodeEvent gives for it; the events it declines (any with
// problems, odd encodings) take the generic path.
func (a *Agent) onEvent(ev *agents.Event) {
	rec := a.rec.Load()
	if rec == nil {
		a.ignored.Add(1)
		return
	}
	if ev.Err != nil { // the connection could not decode it (e.g. nested too deep)
		rec.badEvent(ev.Topic, ev.Err)
		return
	}
	if ev.Raw != nil {
		if msg, ok := a.decodeRaw(ev.Raw); ok {
			if msg.Info.Recordable() {
				rec.pub.Enqueue(&msg)
			}
			return
		}
		if err := ev.DecodeRaw(); err != nil {
			rec.badEvent(ev.Topic, err)
			return
		}
	}
	msg, problems, err := feeds.DecodeEvent(ev.Args, ev.Kwargs)
	if err != nil {
		rec.badEvent(ev.Topic, err)
		return
	}
	if !msg.Info.Recordable() {
		return
	}
	if len(problems) > 0 {
		rec.noteProblems(problems)
	}
	rec.pub.Enqueue(&msg)
}

// decodeRaw decodes a raw msgpack event with a.fast, or with a fresh
// decoder in the rare moment another goroutine holds it.
func (a *Agent) decodeRaw(raw []byte) (feeds.Message, bool) {
	if a.fastMu.TryLock() {
		defer a.fastMu.Unlock()
		return a.fast.Decode(raw)
	}
	var fd feeds.MsgpackFeedDecoder
	return fd.Decode(raw)
}

// class is the agent class of the options.
func (o Options) class() string {
	if o.V2 {
		return AgentClassV2
	}
	return AgentClass
}

// publisherConfig is the publisher's configuration for one record run:
// the main target (from the Python agent's flags and credential
// variables, or with Options.V2 from the INFLUXDB_V2_* variables), the
// --output targets and the filter. It reads the environment and the
// credential files, as the Python agent does when record starts.
func (a *Agent) publisherConfig() (publisher.Config, error) {
	o := a.opts
	c := publisher.DefaultConfig()
	if o.V2 {
		if err := v2Target(&c.OutputConfig, a.lookupEnv, a.readFile); err != nil {
			return c, fmt.Errorf("InfluxDB v2 target: %w", err)
		}
	} else {
		creds, err := publisher.LoadCredentials(a.lookupEnv, a.readFile)
		if err != nil {
			return c, fmt.Errorf("InfluxDB credentials: %w", err)
		}
		c.Credentials = creds
		a.v1Target(&c.OutputConfig)
	}
	c.Protocol = publisher.Protocol(o.Protocol)
	c.Filter = o.filter()
	c.MaxFeeds = o.MaxFeeds
	c.NoCreate = o.NoCreateDatabase
	c.Gzip = o.Gzip
	c.GzipLevel = o.GzipLevel
	c.BatchPoints = o.BatchPoints
	c.BatchBytes = int(o.BatchBytes)
	c.FlushInterval = o.FlushInterval
	c.BatchWait = o.BatchWait
	c.MaxPendingBytes = int(o.MaxPendingBytes)
	c.StopTimeout = o.ShutdownTimeout
	c.SpoolDir = o.SpoolDir // relative to the working directory, as DefaultSpoolDir
	c.SpoolFallback = o.OnSpoolError == SpoolErrorMemory
	c.SpoolMaxBytes = o.SpoolMaxBytes
	c.SpoolMaxAge = o.SpoolMaxAge
	c.SpoolSync = o.SpoolSync.publisher()
	if a.tune.ConnectRetry > 0 {
		c.ConnectRetry = a.tune.ConnectRetry
	}
	if a.tune.RetryMin > 0 {
		c.RetryMin = a.tune.RetryMin
	}
	if a.tune.RetryMax > 0 {
		c.RetryMax = a.tune.RetryMax
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = c.RetryMin
	}
	for _, s := range o.Outputs {
		spec, err := ParseOutput(s)
		if err != nil {
			return c, fmt.Errorf("--output: %w", err)
		}
		oc, err := spec.config(c.OutputConfig, a.readFile)
		if err != nil {
			return c, err
		}
		c.Outputs = append(c.Outputs, oc)
	}
	return c, nil
}

// v1Target sets c's server and database from the Python agent's flags.
func (a *Agent) v1Target(c *publisher.OutputConfig) {
	o := a.opts
	c.URL = o.URL
	c.Host = o.Host
	c.Port = o.Port
	c.SSL = o.SSL
	c.VerifySSL = o.VerifySSL
	c.CAFile = o.CAFile
	c.Database = o.Database
	c.RetentionPolicy = o.RetentionPolicy
}
