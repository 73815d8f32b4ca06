package influxdb

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/ocsflux/ocsflux/publisher"
	"github.com/ocsflux/ocsflux/site"
)

// The OCS agent classes this package implements: the publisher for
// InfluxDB 1.x (target from --host, --port, --database, ...) and the one
// for InfluxDB 2.x (target from the INFLUXDB_V2_* variables, V2Variables).
const (
	AgentClass   = "InfluxDBAgent"
	AgentClassV2 = "InfluxDBAgentv2"
)

// Help sections of the options.
const (
	// GroupAgent holds the Python agent's own options.
	GroupAgent   = "Agent Options (InfluxDBAgent)"
	GroupAgentV2 = "Agent Options (InfluxDBAgentv2)"
	// GroupExtension holds options that only ocsflux has.
	GroupExtension = "ocsflux Options (InfluxDBAgent, InfluxDBAgentv2)"
)

// Options of the InfluxDB publisher agent. The first eight are the Python
// agent's flags, with its names, defaults and choices (§7.2); the rest are
// ocsflux extensions. Start from Defaults(); the command line sets them
// through Flags.
type Options struct {
	// V2 says the agent class is AgentClassV2: its Python flags are only
	// --initial-state, --protocol and --gzip, and the target is read from
	// the INFLUXDB_V2_* variables when record starts. It is not a flag.
	V2 bool

	InitialState string // --initial-state: "record" (start record at the first join) or "idle"
	Host         string // --host: InfluxDB host name or IP
	Port         int    // --port: InfluxDB port, 1..65535
	Database     string // --database: created if missing
	Protocol     string // --protocol: "line" or "json" (how points are built; line protocol on the wire)
	SSL          bool   // --ssl: https instead of http
	VerifySSL    bool   // --verify-ssl: verify the server certificate
	Gzip         bool   // --gzip: gzip request bodies

	// URL (--url), if set, is the InfluxDB base URL (http or https, with an
	// optional path prefix) and replaces Host, Port and SSL.
	URL string
	// RetentionPolicy (--retention-policy) is sent as rp= with each write;
	// "" uses the database's default policy.
	RetentionPolicy string
	// CAFile (--ca-file) is a PEM file of extra CA certificates to trust;
	// setting it turns certificate verification on, as --verify-ssl does.
	CAFile string
	// GzipLevel (--compression-level; not --gzip-level, which would make
	// --gz, an abbreviation of the Python agent's --gzip, ambiguous) is
	// the DEFLATE level used with --gzip: 1 (fastest, the default) to 9
	// (smallest, the Python agent's).
	GzipLevel int
	// BatchPoints (--batch-points) is the most points per write request
	// (1..10000; the Python agent uses 10000).
	BatchPoints int
	// BatchBytes (--batch-bytes) is the most line-protocol bytes per write
	// request, before compression (at most MaxBatchBytes).
	BatchBytes int64
	// FlushInterval (--flush-interval) is the longest a point waits before
	// it is written (the Python agent writes every 1 s).
	FlushInterval time.Duration
	// BatchWait (--batch-wait): with no write in flight, a batch is sent
	// once its oldest point has waited this long (at most FlushInterval).
	BatchWait time.Duration
	// SpoolDir (--spool-dir) holds batches InfluxDB did not accept yet, so
	// that they survive outages and restarts; a relative path is relative
	// to the working directory. On the command line "" means
	// DefaultSpoolDir(instance-id); in Options (Defaults) "" means no
	// spool: what cannot be written is kept in memory only.
	SpoolDir string
	// SpoolMaxBytes (--spool-max-bytes) caps the spool's size on disk; the
	// oldest batches are dropped (and counted) beyond it.
	SpoolMaxBytes int64
	// SpoolMaxAge (--spool-max-age): spooled batches older than this are
	// dropped (and counted).
	SpoolMaxAge time.Duration
	// SpoolSync (--spool-sync) says when spool files are fsynced.
	SpoolSync SpoolSync
	// MaxPendingBytes (--max-pending-bytes) caps the data held in memory
	// waiting to be written; beyond half of it new data goes to the spool.
	MaxPendingBytes int64
	// ShutdownTimeout (--shutdown-timeout) is how long a stop or shutdown
	// may spend on the final flush before what is left is spooled.
	ShutdownTimeout time.Duration

	// OnSpoolError (--on-spool-error) says what happens when the spool
	// directory cannot be used at start: SpoolErrorExit (the agent exits
	// with status 1) or SpoolErrorMemory (record runs without a spool,
	// degraded).
	OnSpoolError string

	// MaxFeeds (--max-feeds) bounds the feeds with counters of their own
	// in the session data (see publisher.Config.MaxFeeds).
	MaxFeeds int

	// Outputs (--output, repeatable) are more targets written at the same
	// time, as ParseOutput reads them.
	Outputs []string
	// NoCreateDatabase (--no-create-database): the database (or bucket)
	// is neither checked nor created, for InfluxDB 3 and VictoriaMetrics.
	NoCreateDatabase bool
	// Agents, ExcludeAgents (--agents, --exclude-agents, repeatable) are
	// globs matched against the agent address; ExcludeFeeds
	// (--exclude-feeds) against "<agent address>.<feed name>" (see
	// publisher.Filter).
	Agents, ExcludeAgents, ExcludeFeeds []string
}

// The choices of --on-spool-error.
const (
	SpoolErrorExit   = "exit"
	SpoolErrorMemory = "memory"
)

// MaxBatchBytes is the largest --batch-bytes: it keeps write requests well
// under InfluxDB's default max-body-size of 25 MB.
const MaxBatchBytes = 16 << 20

// SpoolSync says when spool files are flushed to disk: after every batch
// (SyncEveryBatch, the default), never (SyncNever: the OS decides), or, if
// positive, at most once per that interval.
type SpoolSync time.Duration

// Spool sync policies besides an interval.
const (
	SyncEveryBatch SpoolSync = 0
	SyncNever      SpoolSync = -1
)

// publisher returns the policy as publisher.Config.SpoolSync takes it.
func (s SpoolSync) publisher() time.Duration {
	switch {
	case s == SyncEveryBatch:
		return publisher.SpoolSyncEveryBatch
	case s < 0:
		return publisher.SpoolSyncNever
	}
	return time.Duration(s)
}

// String returns the policy as --spool-sync takes it.
func (s SpoolSync) String() string {
	switch {
	case s == SyncEveryBatch:
		return "batch"
	case s < 0:
		return "never"
	}
	return site.FormatDuration(time.Duration(s))
}

type spoolSyncValue struct{ p *SpoolSync }

func (v spoolSyncValue) Set(s string) error {
	switch s {
	case "batch":
		*v.p = SyncEveryBatch
		return nil
	case "never":
		*v.p = SyncNever
		return nil
	}
	d, err := site.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("invalid value: %s (use batch, never, or an interval such as 5s)", site.PyStrRepr(s))
	}
	*v.p = SpoolSync(d)
	return nil
}
func (v spoolSyncValue) Get() any        { return v.p.String() }
func (v spoolSyncValue) Kind() site.Kind { return site.KindString }

// DefaultSpoolDir is the spool directory of an instance when --spool-dir is
// not given, relative to the working directory.
func DefaultSpoolDir(instanceID string) string {
	return "ocsflux-spool-" + instanceID
}

// DefaultsV2 returns the options of an InfluxDBAgentv2 with every default
// applied.
func DefaultsV2() Options {
	o := Options{V2: true}
	if err := site.ApplyDefaults(o.Flags()); err != nil {
		panic("influxdb: bad default: " + err.Error()) // a bug in Flags, caught by its tests
	}
	return o
}

// Defaults returns the options with every default applied.
func Defaults() Options {
	var o Options
	if err := site.ApplyDefaults(o.Flags()); err != nil {
		panic("influxdb: bad default: " + err.Error()) // a bug in Flags, caught by its tests
	}
	return o
}

// v1Only are the flags of InfluxDBAgent that InfluxDBAgentv2 does not
// have: its target comes from the INFLUXDB_V2_* variables.
var v1Only = map[string]bool{"host": true, "port": true, "database": true, "ssl": true, "verify-ssl": true,
	"url": true, "retention-policy": true, "ca-file": true}

// Flags returns the definitions of the options, bound to o's fields: the
// Python agent's (of the class o.V2 says), then ocsflux's.
func (o *Options) Flags() []site.Flag {
	all := o.flags()
	if !o.V2 {
		return all
	}
	var v2 []site.Flag
	for _, f := range all {
		if v1Only[f.Name] {
			continue
		}
		if f.Group == GroupAgent {
			f.Group = GroupAgentV2
		}
		v2 = append(v2, f)
	}
	return v2
}

func (o *Options) flags() []site.Flag {
	agent := func(f site.Flag) site.Flag { f.Group = GroupAgent; return f }
	ext := func(f site.Flag) site.Flag { f.Group = GroupExtension; return f }
	const boolHelp = " A bare flag or true/yes/on/1 means true; false/no/off/0 means false."
	return []site.Flag{
		agent(site.Flag{Name: "initial-state", Value: site.StringValue(&o.InitialState), Default: "record",
			Choices: []string{"idle", "record"},
			Help:    "Start the record process at the first connection (record) or wait for a client (idle)."}),
		agent(site.Flag{Name: "host", Value: site.StringValue(&o.Host), Default: "influxdb", Placeholder: "HOST",
			Help: "InfluxDB host name or address."}),
		agent(site.Flag{Name: "port", Value: site.IntValue(&o.Port, 1, 65535), Default: "8086", Placeholder: "PORT",
			Help: "InfluxDB port (1-65535)."}),
		agent(site.Flag{Name: "database", Value: site.StringValue(&o.Database), Default: "ocs_feeds", Placeholder: "NAME",
			Help: "Database to write to; created if missing."}),
		agent(site.Flag{Name: "protocol", Value: site.StringValue(&o.Protocol), Default: "line",
			Choices: []string{"json", "line"},
			Help:    "How points are built from feed messages, as the Python agent's line or json protocol."}),
		agent(site.Flag{Name: "ssl", Value: site.BoolValue(&o.SSL), Default: "false",
			Help: "Use https instead of http." + boolHelp}),
		agent(site.Flag{Name: "verify-ssl", Value: site.BoolValue(&o.VerifySSL), Default: "false",
			Help: "Verify InfluxDB's certificate (with https)." + boolHelp}),
		agent(site.Flag{Name: "gzip", Value: site.BoolValue(&o.Gzip), Default: "false",
			Help: "Gzip request bodies." + boolHelp}),

		ext(site.Flag{Name: "url", Value: site.StringValue(&o.URL), Placeholder: "URL",
			Help: "InfluxDB base URL (http:// or https://, optionally with a path prefix); replaces --host, --port and --ssl."}),
		ext(site.Flag{Name: "retention-policy", Value: site.StringValue(&o.RetentionPolicy), Placeholder: "NAME",
			Help: "Retention policy to write into (default: the database's default policy)."}),
		ext(site.Flag{Name: "ca-file", Value: site.StringValue(&o.CAFile), Placeholder: "PATH",
			Help: "PEM file of extra CA certificates to trust; turns on certificate verification like --verify-ssl."}),
		ext(site.Flag{Name: "compression-level", Value: site.IntValue(&o.GzipLevel, 1, 9), Default: "1", Placeholder: "N",
			Help: "gzip level used with --gzip: 1 (fastest) to 9 (smallest, the Python agent's level)."}),
		ext(site.Flag{Name: "batch-points", Value: site.IntValue(&o.BatchPoints, 1, 10000), Default: "5000", Placeholder: "N",
			Help: "Most points per write request (1-10000)."}),
		ext(site.Flag{Name: "batch-bytes", Value: site.BytesValue(&o.BatchBytes), Default: "4MiB", Placeholder: "SIZE",
			Help: "Most line-protocol bytes per write request, before compression (at most 16MiB)."}),
		ext(site.Flag{Name: "flush-interval", Value: site.DurationValue(&o.FlushInterval), Default: "1s", Placeholder: "DURATION",
			Help: "Longest time a point waits before it is written."}),
		ext(site.Flag{Name: "batch-wait", Value: site.DurationValue(&o.BatchWait), Default: "20ms", Placeholder: "DURATION",
			Help: "With no write in flight, how long a point waits for more data before its batch is sent (at most --flush-interval)."}),
		ext(site.Flag{Name: "spool-dir", Value: site.StringValue(&o.SpoolDir), Placeholder: "DIR",
			Help: "Directory for data InfluxDB has not accepted yet, kept across outages and restarts " +
				"(default: ocsflux-spool-<instance-id> in the working directory)."}),
		ext(site.Flag{Name: "spool-max-bytes", Value: site.BytesValue(&o.SpoolMaxBytes), Default: "1GiB", Placeholder: "SIZE",
			Help: "Most bytes kept in the spool; the oldest data is dropped beyond it."}),
		ext(site.Flag{Name: "spool-max-age", Value: site.DurationValue(&o.SpoolMaxAge), Default: "7d", Placeholder: "DURATION",
			Help: "Spooled data older than this is dropped."}),
		ext(site.Flag{Name: "spool-sync", Value: spoolSyncValue{&o.SpoolSync}, Default: "batch", Placeholder: "batch|never|DURATION",
			Help: "When spool files are flushed to disk: after every batch, never (the OS decides), or at most once per interval."}),
		ext(site.Flag{Name: "max-pending-bytes", Value: site.BytesValue(&o.MaxPendingBytes), Default: "64MiB", Placeholder: "SIZE",
			Help: "Most data held in memory waiting to be written; beyond half of it new data goes to the spool."}),
		ext(site.Flag{Name: "shutdown-timeout", Value: site.DurationValue(&o.ShutdownTimeout), Default: "10s", Placeholder: "DURATION",
			Help: "Time a stop or shutdown may spend on the final write before the rest is spooled."}),
		ext(site.Flag{Name: "on-spool-error", Value: site.StringValue(&o.OnSpoolError), Default: SpoolErrorExit,
			Choices: []string{SpoolErrorExit, SpoolErrorMemory},
			Help: "When the spool directory cannot be used at start: exit with status 1, or record without a spool " +
				"(data kept in memory only), degraded."}),
		ext(site.Flag{Name: "max-feeds", Value: site.IntValue(&o.MaxFeeds, 1, 1000000), Default: strconv.Itoa(publisher.DefaultMaxFeeds), Placeholder: "N",
			Help: "Most feeds with counters of their own in record's session data (the most recently active); " +
				"the others are summed under other_feeds."}),
		ext(site.Flag{Name: "output", Value: site.StringsValue(&o.Outputs), Placeholder: "URL",
			Help: "Also write to this server (repeatable): its base URL with query parameters api=v1|v2, db=, rp=, org=, bucket=, " +
				"create=false, name=, token_file=, username_file=, password_file= (never credentials in the URL)."}),
		ext(site.Flag{Name: "no-create-database", Value: site.BoolValue(&o.NoCreateDatabase), Default: "false",
			Help: "Neither check nor create the database or bucket (InfluxDB 3, VictoriaMetrics)." + boolHelp}),
		ext(site.Flag{Name: "agents", Value: site.StringsValue(&o.Agents), Placeholder: "GLOB",
			Help: "Write only the feeds of agents whose address matches (repeatable; e.g. observatory.acu*)."}),
		ext(site.Flag{Name: "exclude-agents", Value: site.StringsValue(&o.ExcludeAgents), Placeholder: "GLOB",
			Help: "Do not write the feeds of agents whose address matches (repeatable)."}),
		ext(site.Flag{Name: "exclude-feeds", Value: site.StringsValue(&o.ExcludeFeeds), Placeholder: "GLOB",
			Help: "Do not write the feeds whose <agent address>.<feed name> matches (repeatable)."}),
	}
}

// Validate checks the options; each problem names its flag.
func (o Options) Validate() error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	if o.InitialState != "record" && o.InitialState != "idle" {
		bad("initial-state", "must be record or idle, got %q", o.InitialState)
	}
	if o.Protocol != "line" && o.Protocol != "json" {
		bad("protocol", "must be line or json, got %q", o.Protocol)
	}
	switch {
	case o.V2:
	case o.URL == "":
		if o.Host == "" {
			bad("host", "must not be empty")
		}
		if o.Port < 1 || o.Port > 65535 {
			bad("port", "must be from 1 to 65535, got %d", o.Port)
		}
	default:
		if err := checkURL(o.URL); err != nil {
			bad("url", "%v", err)
		}
	}
	if o.Database == "" && !o.V2 {
		bad("database", "must not be empty")
	}
	names := map[string]bool{publisher.DefaultOutputName: true} // the main target's
	for _, s := range o.Outputs {
		spec, err := ParseOutput(s)
		switch {
		case err != nil:
			bad("output", "%v", err)
		case names[spec.Name]:
			bad("output", "two outputs are named %q (the main target is %q): give each a name=", spec.Name, publisher.DefaultOutputName)
		}
		names[spec.Name] = true
	}
	if err := o.filter().Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.GzipLevel < 1 || o.GzipLevel > 9 {
		bad("compression-level", "must be from 1 to 9, got %d", o.GzipLevel)
	}
	if o.BatchPoints < 1 || o.BatchPoints > 10000 {
		bad("batch-points", "must be from 1 to 10000, got %d", o.BatchPoints)
	}
	if o.BatchBytes <= 0 || o.BatchBytes > MaxBatchBytes {
		bad("batch-bytes", "must be from 1 to %s, got %d", site.FormatBytes(MaxBatchBytes), o.BatchBytes)
	}
	if o.FlushInterval <= 0 {
		bad("flush-interval", "must be positive, got %s", o.FlushInterval)
	}
	if o.BatchWait <= 0 {
		bad("batch-wait", "must be positive, got %s", o.BatchWait)
	}
	if min := o.BatchBytes + 64<<10; o.SpoolMaxBytes < min {
		bad("spool-max-bytes", "must be at least --batch-bytes + 64KiB (%s), got %s",
			site.FormatBytes(min), site.FormatBytes(o.SpoolMaxBytes))
	}
	if o.SpoolMaxAge <= 0 {
		bad("spool-max-age", "must be positive, got %s", o.SpoolMaxAge)
	}
	if o.SpoolSync < SyncNever {
		bad("spool-sync", "invalid policy %d", o.SpoolSync)
	}
	if o.MaxPendingBytes < o.BatchBytes {
		bad("max-pending-bytes", "must be at least --batch-bytes (%d), got %d", o.BatchBytes, o.MaxPendingBytes)
	}
	if o.ShutdownTimeout <= 0 {
		bad("shutdown-timeout", "must be positive, got %s", o.ShutdownTimeout)
	}
	if o.MaxFeeds < 1 {
		bad("max-feeds", "must be at least 1, got %d", o.MaxFeeds)
	}
	if o.OnSpoolError != SpoolErrorExit && o.OnSpoolError != SpoolErrorMemory {
		bad("on-spool-error", "must be exit or memory, got %q", o.OnSpoolError)
	}
	return errors.Join(errs...)
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("not a URL: %q", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("must start with http:// or https://, got %q", s)
	case u.Host == "":
		return fmt.Errorf("has no host: %q", s)
	case u.User != nil:
		return errors.New("must not contain credentials: set INFLUXDB_USERNAME and INFLUXDB_PASSWORD (or their _FILE variants)")
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("must not have a query or fragment: %q", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > math.MaxUint16 {
			return fmt.Errorf("bad port in %q", s)
		}
	}
	return nil
}

// CredentialVariables are the environment variables the agent reads its
// InfluxDB credentials from when record starts (§7.3).
func CredentialVariables() []string {
	return []string{
		"INFLUXDB_USERNAME", "INFLUXDB_USERNAME_FILE",
		"INFLUXDB_PASSWORD", "INFLUXDB_PASSWORD_FILE",
		"INFLUXDB_TOKEN", "INFLUXDB_TOKEN_FILE",
	}
}
