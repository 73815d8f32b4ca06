package loadgen

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"time"
)

// Defaults of Config (and of `ocsflux bench`'s flags).
const (
	DefaultRouterURL    = "ws://127.0.0.1:8001/ws"
	DefaultRealm        = "test_realm"
	DefaultAddressRoot  = "observatory"
	DefaultInfluxURL    = "http://127.0.0.1:8086"
	DefaultDatabase     = "ocs_feeds"
	DefaultAgents       = 8
	DefaultSamples      = 10
	DefaultFields       = 10
	DefaultStepDuration = 10 * time.Second
	DefaultSettle       = 10 * time.Second
	DefaultPoll         = 20 * time.Millisecond
	DefaultTick         = 10 * time.Millisecond
	DefaultWarmup       = 30 * time.Second
)

// DefaultRates are the default rate steps, in points per second.
func DefaultRates() []int64 { return []int64{1000, 5000, 20000, 50000} }

// Limits checked by Validate.
const (
	MaxAgents  = 1000
	MaxSamples = 10000
	MaxFields  = 1000
	MinPoll    = time.Millisecond
)

// Config says what to load and where. Start from Defaults().
type Config struct {
	// RouterURL is the WAMP WebSocket (ws:// or wss://) the simulated
	// agents publish on; Realm and AddressRoot as in the site config.
	RouterURL   string
	Realm       string
	AddressRoot string

	// InfluxURL and Database are where the publisher writes; the bench
	// only queries them. Username and Password, if Username is not empty,
	// are sent with HTTP basic authentication (never logged).
	InfluxURL, Database string
	Username, Password  string

	// Agents is the number of simulated agents (WAMP sessions); Samples the
	// samples (points) per message; Fields the float fields of each sample.
	// Mix adds an int, a bool and a string field to every sample.
	Agents, Samples, Fields int
	Mix                     bool

	// Rates are the steps' target total rates in points per second, split
	// over the agents; each step publishes for StepDuration, then waits up
	// to Settle for InfluxDB's count to reach (or stop approaching) the
	// published count.
	Rates        []int64
	StepDuration time.Duration
	Settle       time.Duration
	// Poll is the interval of the latency queries (the latency's
	// resolution); Tick the interval of the publishing ticker.
	Poll, Tick time.Duration
	// Warmup bounds the wait, before the first step, for a probe message of
	// every agent to reach InfluxDB (the publisher connecting and
	// recording).
	Warmup time.Duration

	// PublisherPID, if not 0, is the publisher process whose CPU time and
	// RSS are read from /proc during each step.
	PublisherPID int
	// RouterDrops, if set, returns the router's count of dropped events
	// (an embedded router's Stats().DroppedEvents); it is read before and
	// after each step.
	RouterDrops func() uint64

	// RunID names this run's agents (bench-<RunID>-<k>); default random.
	// Lowercase letters and digits only.
	RunID string
	// Logger receives progress (one line per step) and problems; default
	// discard.
	Logger *slog.Logger
}

// Defaults returns a Config with every default applied.
func Defaults() Config {
	return Config{
		RouterURL:    DefaultRouterURL,
		Realm:        DefaultRealm,
		AddressRoot:  DefaultAddressRoot,
		InfluxURL:    DefaultInfluxURL,
		Database:     DefaultDatabase,
		Agents:       DefaultAgents,
		Samples:      DefaultSamples,
		Fields:       DefaultFields,
		Rates:        DefaultRates(),
		StepDuration: DefaultStepDuration,
		Settle:       DefaultSettle,
		Poll:         DefaultPoll,
		Tick:         DefaultTick,
		Warmup:       DefaultWarmup,
	}
}

var (
	runIDPattern = regexp.MustCompile(`^[a-z0-9]{1,32}$`)
	// An OCS address component: what the router's URI rules and InfluxQL
	// quoting both accept without surprises.
	addressRootPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// Validate checks the configuration; the errors name the setting as the
// command line does (--agents, ...).
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := checkURL(c.RouterURL, "ws", "wss"); err != nil {
		bad("--router %q: %v", c.RouterURL, err)
	}
	if c.Realm == "" {
		bad("--realm: must not be empty")
	}
	if !addressRootPattern.MatchString(c.AddressRoot) {
		bad("--address-root %q: want dot-separated components of letters, digits, _ and -", c.AddressRoot)
	}
	if err := checkURL(c.InfluxURL, "http", "https"); err != nil {
		bad("--influx-url %q: %v", c.InfluxURL, err)
	}
	if c.Database == "" {
		bad("--database: must not be empty")
	}
	if c.Agents < 1 || c.Agents > MaxAgents {
		bad("--agents %d: want 1..%d", c.Agents, MaxAgents)
	}
	if c.Samples < 1 || c.Samples > MaxSamples {
		bad("--samples %d: want 1..%d", c.Samples, MaxSamples)
	}
	if c.Fields < 1 || c.Fields > MaxFields {
		bad("--fields %d: want 1..%d", c.Fields, MaxFields)
	}
	if len(c.Rates) == 0 {
		bad("--rates: give at least one rate")
	}
	if c.StepDuration <= 0 {
		bad("--step-duration %s: must be positive", c.StepDuration)
	}
	for _, r := range c.Rates {
		switch {
		case r <= 0:
			bad("--rates %d: rates must be positive (points per second)", r)
		case c.StepDuration > 0 && c.Samples > 0 && MessagesDue(r, c.Samples, c.StepDuration) < 1:
			bad("--rates %d: with --samples %d not one message is due in --step-duration %s",
				r, c.Samples, c.StepDuration)
		}
	}
	if c.Settle < 0 {
		bad("--settle %s: must not be negative", c.Settle)
	}
	if c.Poll < MinPoll {
		bad("--poll %s: at least %s", c.Poll, MinPoll)
	}
	if c.Tick < MinPoll {
		bad("tick %s: at least %s", c.Tick, MinPoll)
	}
	if c.Warmup <= 0 {
		bad("--warmup %s: must be positive", c.Warmup)
	}
	if c.PublisherPID < 0 {
		bad("--publisher-pid %d: must not be negative", c.PublisherPID)
	}
	if c.RunID != "" && !runIDPattern.MatchString(c.RunID) {
		bad("run id %q: want 1 to 32 lowercase letters and digits", c.RunID)
	}
	return errors.Join(errs...)
}

func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	for _, s := range schemes {
		if u.Scheme == s && u.Host != "" {
			return nil
		}
	}
	return fmt.Errorf("want %s://host:port", schemes[0])
}
