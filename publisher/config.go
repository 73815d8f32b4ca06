package publisher

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Config configures a Publisher: its intake and its outputs. Zero numeric
// and string fields take the defaults of DefaultConfig (New fills them
// in); booleans default to false.
type Config struct {
	// OutputConfig is the first output: the target the Python agent's
	// flags (or INFLUXDB_V2_* variables) describe.
	OutputConfig
	// Outputs are more outputs (--output), written to at the same time;
	// each needs a unique Name. Zero fields take the defaults, as above.
	Outputs []OutputConfig

	// Protocol is ProtocolLine (default) or ProtocolJSON.
	Protocol Protocol
	// Filter selects the agents and feeds written (all by default).
	Filter Filter
	// MaxFeeds (default 1000) bounds the feeds with counters of their own
	// (Stats.Feeds), so that memory and the session data stay flat
	// whatever the number of feeds published; FeedExpiry (default 1 h)
	// removes the counters of a feed silent for that long. Their counts
	// go to Stats.OtherFeeds.
	MaxFeeds   int
	FeedExpiry time.Duration
}

func (c Config) feedLimit() feedLimit { return feedLimit{max: c.MaxFeeds, expiry: c.FeedExpiry} }

// API is the InfluxDB write API an output uses.
type API string

const (
	// APIv1 is InfluxDB 1.x's API: POST /write?db=&rp=&precision=ns,
	// databases checked with SHOW DATABASES and created with CREATE
	// DATABASE (InfluxDB 3 and VictoriaMetrics accept its /write too).
	APIv1 API = "v1"
	// APIv2 is InfluxDB 2.x's API: POST
	// /api/v2/write?org=&bucket=&precision=ns with a token; the bucket is
	// looked up by name (GET /api/v2/buckets?name=) and created in Org when
	// missing (GET /api/v2/orgs?org=, POST /api/v2/buckets).
	APIv2 API = "v2"
)

// OutputConfig configures one output: one InfluxDB (or compatible) server
// written to through one API, with its own spool, dead-letter file,
// batching, retries and counters.
type OutputConfig struct {
	// Name identifies the output in logs, stats and the session data, and
	// names its spool subdirectory (extra outputs). Default: "influxdb"
	// for the first output; extra outputs must set it.
	Name string
	// API is APIv1 (default) or APIv2.
	API API
	// URL is the full base URL of InfluxDB ("https://influx.example:8086",
	// a path prefix is kept). When set it overrides Host, Port and SSL.
	// It must not hold credentials.
	URL string
	// Host (default "influxdb"), Port (default 8086) and SSL (https) build
	// the base URL when URL is empty, as the Python agent's --host --port
	// --ssl.
	Host string
	Port int
	SSL  bool
	// VerifySSL verifies the server certificate (Python: --verify-ssl,
	// default false: not verified). A CAFile turns verification on.
	VerifySSL bool
	// CAFile is a PEM file of extra CA certificates to trust.
	CAFile string

	// Database (default "ocs_feeds") is written with /write?db= (APIv1),
	// checked with SHOW DATABASES and created when missing.
	Database string
	// RetentionPolicy, if set, is sent as /write?rp= (APIv1).
	RetentionPolicy string
	// Org and Bucket are the APIv2 organization (name) and bucket; the
	// bucket is created in Org when missing.
	Org, Bucket string
	// NoCreate skips the start-up check and creation of the database or
	// bucket, and never creates one later ("database not found" is then
	// retried): for servers without those APIs (InfluxDB 3,
	// VictoriaMetrics) or users without the right to create.
	NoCreate bool

	// Gzip compresses request bodies (Python: --gzip).
	Gzip bool
	// GzipLevel is the DEFLATE level of klauspost/compress's gzip writer
	// with Gzip: 1 (fastest, the default) to 9 (smallest; the Python
	// agent's). Compression is not the bottleneck: InfluxDB is
	// (docs/BENCHMARKS.md).
	GzipLevel int

	// Credentials are sent on every request; see LoadCredentials.
	Credentials Credentials

	// BatchPoints (default 5000) and BatchBytes (default 4 MiB) close a
	// batch when it reaches that many points or bytes of line protocol
	// (uncompressed). FlushInterval (default 1 s) is the longest a point
	// waits for its batch to be sent while InfluxDB keeps up.
	BatchPoints   int
	BatchBytes    int
	FlushInterval time.Duration
	// BatchWait (default 20 ms, at most FlushInterval): with no write in
	// flight, a batch is sent once its oldest point has waited this long,
	// so that a few messages share a request while the latency stays low.
	// (While a write is in flight, data gathers for the next one.)
	BatchWait time.Duration
	// MaxPendingBytes (default 64 MiB) bounds the encoded data held in
	// memory, waiting, being written or kept for retry (the line
	// protocol). With a spool, the
	// oldest waiting batches go to the spool once more than half of it is
	// waiting. When it is reached (without a spool, or when the spool
	// cannot keep up) new points are dropped and counted
	// (ReasonQueueFull).
	MaxPendingBytes int

	// Timeout (default 10 s) bounds each HTTP request.
	Timeout time.Duration
	// ConnectRetry (default 1 s, as Python) is the pause between start-up
	// attempts while InfluxDB does not answer SHOW DATABASES.
	ConnectRetry time.Duration
	// RetryMin (default 100 ms) and RetryMax (default 30 s) bound the
	// exponential backoff (with ±20% jitter) between attempts to write
	// after a failure. A Retry-After reply header lengthens the wait (up
	// to MaxRetryAfter).
	RetryMin time.Duration
	RetryMax time.Duration
	// StopTimeout (default 10 s) is how long Run keeps writing after its
	// context is cancelled; then in-flight requests are cancelled and,
	// with a spool, what is left in memory is spooled.
	StopTimeout time.Duration
	// LogInterval (default 10 s) is how often dropped values are logged,
	// aggregated, with their agent, feed and field names.
	LogInterval time.Duration

	// SpoolDir, if set, is the directory of the on-disk spool (see Spool):
	// batches InfluxDB does not accept (unreachable, timeout, 5xx, 401,
	// 403, database missing and not creatable), data arriving while
	// writes fail, data beyond half of MaxPendingBytes and data unwritten
	// at stop go there, and are replayed when InfluxDB accepts writes
	// again, also after a restart. Empty: no spool; failed batches are
	// kept in memory up to MaxPendingBytes and lost at stop.
	SpoolDir string
	// SpoolFallback: when SpoolDir cannot be used at start (read-only,
	// not writable), run without a spool, degraded with that reason,
	// instead of failing Run.
	SpoolFallback bool
	// SpoolMaxBytes (default 1 GiB, at least BatchBytes + 64 KiB) bounds
	// the spool on disk and SpoolMaxAge (default 7 days) the age of
	// spooled data: beyond them the oldest data is dropped, counted
	// (Stats.SpoolDropped) and logged with its time range.
	SpoolMaxBytes int64
	SpoolMaxAge   time.Duration
	// SpoolSync says when the spool is fsync'd: SpoolSyncEveryBatch (0,
	// the default) after every batch spooled, SpoolSyncNever (negative)
	// never (the operating system writes it back), or, if positive, at
	// most this long after a batch was spooled. It matters for power
	// loss, not for a killed process.
	SpoolSync time.Duration
	// ReplayBytesPerSecond (default 4 MiB/s of line protocol) limits the
	// replay of spooled data, so that live data keeps a low latency;
	// live batches and replayed ones alternate when both are ready.
	ReplayBytesPerSecond int64
	// SpoolLogInterval (default 1 min) is how often a log line says how
	// much data is waiting in the spool and since when.
	SpoolLogInterval time.Duration
	// DeadLetterFile receives, as JSON lines (DeadLetter), the points
	// InfluxDB refuses for good (field type conflict, unable to parse, too
	// large). Default: DeadLetterFileName in SpoolDir; none without a
	// spool (the points are then only counted and logged).
	DeadLetterFile string
	// DeadLetterMaxBytes (default 64 MiB): past it the file is renamed to
	// <DeadLetterFile>.1 (replacing an older one) and a new one begun.
	DeadLetterMaxBytes int64
}

// Defaults.
const (
	DefaultOutputName      = "influxdb"
	DefaultMaxFeeds        = 1000
	DefaultFeedExpiry      = time.Hour
	DefaultHost            = "influxdb"
	DefaultPort            = 8086
	DefaultDatabase        = "ocs_feeds"
	DefaultGzipLevel       = gzip.BestSpeed
	DefaultBatchPoints     = 5000
	DefaultBatchBytes      = 4 << 20
	DefaultFlushInterval   = time.Second
	DefaultBatchWait       = 20 * time.Millisecond
	DefaultMaxPendingBytes = 64 << 20
	DefaultTimeout         = 10 * time.Second
	DefaultConnectRetry    = time.Second
	DefaultRetryMin        = 100 * time.Millisecond
	DefaultRetryMax        = 30 * time.Second
	DefaultStopTimeout     = 10 * time.Second
	DefaultLogInterval     = 10 * time.Second
	// DefaultReplayBytesPerSecond is the replay bandwidth: 4 MiB/s of
	// line protocol, about 8 000 points/s of a 16-channel FakeDataAgent
	// feed (lines of about 540 bytes).
	DefaultReplayBytesPerSecond = 4 << 20
	DefaultSpoolLogInterval     = time.Minute
	// MaxRetryAfter caps how long a Retry-After header can delay a retry.
	MaxRetryAfter = 5 * time.Minute
	// maxBatchBytes keeps requests well under InfluxDB's default 25 MB
	// max-body-size.
	maxBatchBytes = 16 << 20
	// minSpoolOverBatch: the spool must hold a batch and more.
	minSpoolOverBatch = 64 << 10
)

// DefaultConfig returns the defaults (the Python agent's where it has one).
func DefaultConfig() Config {
	c := Config{}
	c.fillDefaults()
	return c
}

func (c *Config) fillDefaults() {
	setDefault(&c.Protocol, ProtocolLine)
	setDefault(&c.MaxFeeds, DefaultMaxFeeds)
	setDefault(&c.FeedExpiry, DefaultFeedExpiry)
	setDefault(&c.OutputConfig.Name, DefaultOutputName)
	c.OutputConfig.fillDefaults()
	for i := range c.Outputs {
		c.Outputs[i].fillDefaults()
	}
}

func (c *OutputConfig) fillDefaults() {
	setDefault(&c.API, APIv1)
	setDefault(&c.Host, DefaultHost)
	setDefault(&c.Port, DefaultPort)
	setDefault(&c.Database, DefaultDatabase)
	setDefault(&c.GzipLevel, DefaultGzipLevel)
	setDefault(&c.BatchPoints, DefaultBatchPoints)
	setDefault(&c.BatchBytes, DefaultBatchBytes)
	setDefault(&c.FlushInterval, DefaultFlushInterval)
	setDefault(&c.BatchWait, DefaultBatchWait)
	setDefault(&c.MaxPendingBytes, DefaultMaxPendingBytes)
	setDefault(&c.Timeout, DefaultTimeout)
	setDefault(&c.ConnectRetry, DefaultConnectRetry)
	setDefault(&c.RetryMin, DefaultRetryMin)
	setDefault(&c.RetryMax, DefaultRetryMax)
	setDefault(&c.StopTimeout, DefaultStopTimeout)
	setDefault(&c.LogInterval, DefaultLogInterval)
	setDefault(&c.SpoolMaxBytes, DefaultSpoolMaxBytes)
	setDefault(&c.SpoolMaxAge, DefaultSpoolMaxAge)
	setDefault(&c.ReplayBytesPerSecond, DefaultReplayBytesPerSecond)
	setDefault(&c.SpoolLogInterval, DefaultSpoolLogInterval)
	setDefault(&c.DeadLetterMaxBytes, DefaultDeadLetterMaxBytes)
	if c.DeadLetterFile == "" && c.SpoolDir != "" {
		c.DeadLetterFile = filepath.Join(c.SpoolDir, DeadLetterFileName)
	}
}

// spoolConfig is the configuration of the output's spool.
func (c *OutputConfig) spoolConfig() SpoolConfig {
	return SpoolConfig{Dir: c.SpoolDir, MaxBytes: c.SpoolMaxBytes, MaxAge: c.SpoolMaxAge, Sync: c.SpoolSync}
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// Validate reports the invalid settings. It does not fill defaults:
// validate DefaultConfig() with changes, or let New do both.
func (c Config) Validate() error {
	var errs []error
	if c.Protocol != ProtocolLine && c.Protocol != ProtocolJSON {
		errs = append(errs, fmt.Errorf("protocol %q: must be %q or %q", c.Protocol, ProtocolLine, ProtocolJSON))
	}
	if err := c.Filter.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxFeeds < 1 || c.FeedExpiry <= 0 {
		errs = append(errs, fmt.Errorf("max feeds %d, feed expiry %v: must be positive", c.MaxFeeds, c.FeedExpiry))
	}
	names := map[string]bool{}
	dirs := map[string]string{}
	for i, o := range c.all() {
		if err := o.Validate(); err != nil {
			if i > 0 {
				err = fmt.Errorf("output %q: %w", o.Name, err)
			}
			errs = append(errs, err)
		}
		if names[o.Name] {
			errs = append(errs, fmt.Errorf("output %q: two outputs have that name", o.Name))
		}
		names[o.Name] = true
		if o.SpoolDir != "" {
			if other, ok := dirs[filepath.Clean(o.SpoolDir)]; ok {
				errs = append(errs, fmt.Errorf("outputs %q and %q share the spool directory %s", other, o.Name, o.SpoolDir))
			}
			dirs[filepath.Clean(o.SpoolDir)] = o.Name
		}
	}
	return errors.Join(errs...)
}

// all returns the outputs' configurations, the first one first.
func (c Config) all() []OutputConfig {
	return append([]OutputConfig{c.OutputConfig}, c.Outputs...)
}

// Validate reports the invalid settings of one output.
func (c OutputConfig) Validate() error {
	if _, err := c.BaseURL(); err != nil {
		return err
	}
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Name != "" && ValidOutputName(c.Name), "output name %q: must be letters, digits, '.', '_' or '-'", c.Name)
	switch c.API {
	case APIv1:
		check(c.Database != "", "database must not be empty")
	case APIv2:
		check(c.Bucket != "", "bucket must not be empty")
		check(c.Org != "" || c.NoCreate, "org must not be empty (it names the org of the bucket to write and create)")
	default:
		errs = append(errs, fmt.Errorf("api %q: must be %q or %q", c.API, APIv1, APIv2))
	}
	check(c.GzipLevel >= gzip.BestSpeed && c.GzipLevel <= gzip.BestCompression,
		"gzip level %d: must be 1 to 9", c.GzipLevel)
	check(c.BatchPoints >= 1, "batch points %d: must be at least 1", c.BatchPoints)
	check(c.BatchBytes >= 1 && c.BatchBytes <= maxBatchBytes,
		"batch bytes %d: must be 1 to %d", c.BatchBytes, maxBatchBytes)
	check(c.MaxPendingBytes >= c.BatchBytes,
		"max pending bytes %d: must be at least batch bytes (%d)", c.MaxPendingBytes, c.BatchBytes)
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"flush interval", c.FlushInterval}, {"batch wait", c.BatchWait}, {"timeout", c.Timeout},
		{"connect retry", c.ConnectRetry}, {"retry min", c.RetryMin},
		{"retry max", c.RetryMax}, {"stop timeout", c.StopTimeout},
		{"log interval", c.LogInterval},
	} {
		check(d.v > 0, "%s %v: must be positive", d.name, d.v)
	}
	if c.SpoolDir != "" {
		check(c.SpoolMaxBytes >= int64(c.BatchBytes)+minSpoolOverBatch,
			"spool max bytes %d: must be at least batch bytes + 64 KiB (%d)", c.SpoolMaxBytes, int64(c.BatchBytes)+minSpoolOverBatch)
		check(c.SpoolMaxAge > 0, "spool max age %v: must be positive", c.SpoolMaxAge)
		check(c.SpoolLogInterval > 0, "spool log interval %v: must be positive", c.SpoolLogInterval)
		check(c.ReplayBytesPerSecond > 0, "replay bytes per second %d: must be positive", c.ReplayBytesPerSecond)
	}
	if c.DeadLetterFile != "" {
		check(c.DeadLetterMaxBytes > 0, "dead letter max bytes %d: must be positive", c.DeadLetterMaxBytes)
	}
	check(c.RetryMax >= c.RetryMin, "retry max %v: must be at least retry min %v", c.RetryMax, c.RetryMin)
	return errors.Join(errs...)
}

// ValidOutputName reports whether name can name an output and its spool
// subdirectory: letters, digits, '.', '_' and '-', not "." or "..".
func ValidOutputName(name string) bool {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return name != "." && name != ".."
}

// BaseURL returns the InfluxDB base URL the requests go to: URL, or
// http[s]://Host:Port.
func (c OutputConfig) BaseURL() (*url.URL, error) {
	if c.URL == "" {
		if c.Host == "" {
			return nil, errors.New("host must not be empty")
		}
		if c.Port < 1 || c.Port > 65535 {
			return nil, fmt.Errorf("port %d: must be 1 to 65535", c.Port)
		}
		scheme := "http"
		if c.SSL {
			scheme = "https"
		}
		host := strings.TrimSuffix(strings.TrimPrefix(c.Host, "["), "]")
		return &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(c.Port))}, nil
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Parse quotes the input; it must not hold credentials, so
		// say only what is wrong.
		return nil, errors.New("url: not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("url: scheme %q: must be http or https", u.Scheme)
	case u.User != nil:
		return nil, errors.New("url: must not contain credentials; use INFLUXDB_USERNAME/INFLUXDB_PASSWORD or INFLUXDB_TOKEN")
	case u.Host == "":
		return nil, errors.New("url: no host")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("url: must not have a query or fragment")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}
