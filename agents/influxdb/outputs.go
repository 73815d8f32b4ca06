package influxdb

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocsflux/ocsflux/publisher"
)

// OutputSpec is one --output: a server written in addition to the main
// target.
type OutputSpec struct {
	Name            string // name=, default: the host and port ("host_port")
	URL             string // the base URL, without the query
	API             publisher.API
	Database        string // db= (api=v1), default ocs_feeds
	RetentionPolicy string // rp=
	Org, Bucket     string // org=, bucket= (api=v2)
	NoCreate        bool   // create=false
	// TokenFile, UsernameFile and PasswordFile (token_file=, ...) hold
	// the credentials, read when record starts; none: basic auth
	// root/root, as the Python agent's default.
	TokenFile, UsernameFile, PasswordFile string
}

// outputParams are the query parameters an --output URL may have.
var outputParams = []string{"api", "db", "rp", "org", "bucket", "create", "name", "token_file", "username_file", "password_file"}

// ParseOutput reads an --output URL: the server's base URL (http or
// https, a path prefix allowed) with the query parameters of OutputSpec.
// Credentials in the URL are refused: they would be printed and logged.
func ParseOutput(s string) (OutputSpec, error) {
	u, err := url.Parse(s)
	if err != nil {
		return OutputSpec{}, errors.New("not a URL") // url.Parse quotes the input, which may hold a password
	}
	if u.User != nil {
		return OutputSpec{}, errors.New("must not contain credentials: use token_file= or username_file= and password_file=")
	}
	q := u.Query()
	for k := range q {
		if !slices.Contains(outputParams, k) {
			return OutputSpec{}, fmt.Errorf("%q: unknown parameter %q (known: %s)", redactQuery(u), k, strings.Join(outputParams, ", "))
		}
		if len(q[k]) > 1 {
			return OutputSpec{}, fmt.Errorf("%q: parameter %q given twice", redactQuery(u), k)
		}
	}
	base := *u
	base.RawQuery, base.Fragment = "", ""
	if err := checkURL(base.String()); err != nil {
		return OutputSpec{}, err
	}
	o := OutputSpec{
		Name: q.Get("name"), URL: base.String(), API: publisher.API(q.Get("api")),
		Database: q.Get("db"), RetentionPolicy: q.Get("rp"), Org: q.Get("org"), Bucket: q.Get("bucket"),
		TokenFile: q.Get("token_file"), UsernameFile: q.Get("username_file"), PasswordFile: q.Get("password_file"),
	}
	switch c := q.Get("create"); c {
	case "", "true":
	case "false":
		o.NoCreate = true
	default:
		return OutputSpec{}, fmt.Errorf("%q: create=%s: must be true or false", redactQuery(u), c)
	}
	switch o.API {
	case "":
		o.API = publisher.APIv1
		fallthrough
	case publisher.APIv1:
		if o.Org != "" || o.Bucket != "" {
			return OutputSpec{}, fmt.Errorf("%q: org= and bucket= are for api=v2", redactQuery(u))
		}
		if o.Database == "" {
			o.Database = publisher.DefaultDatabase
		}
	case publisher.APIv2:
		if o.Database != "" || o.RetentionPolicy != "" {
			return OutputSpec{}, fmt.Errorf("%q: db= and rp= are for api=v1", redactQuery(u))
		}
		if o.Bucket == "" {
			return OutputSpec{}, fmt.Errorf("%q: api=v2 needs bucket=", redactQuery(u))
		}
	default:
		return OutputSpec{}, fmt.Errorf("%q: api=%s: must be v1 or v2", redactQuery(u), o.API)
	}
	if o.TokenFile != "" && (o.UsernameFile != "" || o.PasswordFile != "") {
		return OutputSpec{}, fmt.Errorf("%q: token_file= and username_file=/password_file= exclude each other", redactQuery(u))
	}
	if o.Name == "" {
		o.Name = strings.NewReplacer(":", "_", "[", "", "]", "").Replace(u.Host)
	}
	if !publisher.ValidOutputName(o.Name) || o.Name == "" {
		return OutputSpec{}, fmt.Errorf("%q: name %q: must be letters, digits, '.', '_' or '-' (it names the output's spool directory)", redactQuery(u), o.Name)
	}
	return o, nil
}

// redactQuery is u without its query, for error messages.
func redactQuery(u *url.URL) string {
	v := *u
	v.RawQuery = ""
	return v.String()
}

// config is the output's publisher configuration: base (the main
// target's, for batching, spool bounds, gzip, ...) with the spec's server,
// API and credentials, and its spool in its own subdirectory of the main
// spool directory.
func (o OutputSpec) config(base publisher.OutputConfig, readFile func(string) ([]byte, error)) (publisher.OutputConfig, error) {
	c := base
	c.Name, c.URL, c.API = o.Name, o.URL, o.API
	c.Database, c.RetentionPolicy, c.Org, c.Bucket = o.Database, o.RetentionPolicy, o.Org, o.Bucket
	c.NoCreate = o.NoCreate || base.NoCreate
	c.Credentials = publisher.Credentials{Username: publisher.DefaultUsername, Password: publisher.DefaultPassword}
	var err error
	read := func(param, path string) string {
		if path == "" || err != nil {
			return ""
		}
		var v string
		v, err = publisher.ReadSecretFile(readFile, path)
		if err != nil {
			err = fmt.Errorf("output %q: %s: %w", o.Name, param, err)
		}
		return v
	}
	if o.TokenFile != "" {
		c.Credentials = publisher.Credentials{Token: read("token_file", o.TokenFile)}
	}
	if o.UsernameFile != "" {
		c.Credentials.Username = read("username_file", o.UsernameFile)
	}
	if o.PasswordFile != "" {
		c.Credentials.Password = read("password_file", o.PasswordFile)
	}
	c.DeadLetterFile = ""
	c.SpoolDir = o.spoolDir(base.SpoolDir)
	return c, err
}

// spoolDir is the output's spool directory: output-<name> in the main
// spool directory (none without one).
func (o OutputSpec) spoolDir(main string) string {
	if main == "" {
		return ""
	}
	return filepath.Join(main, "output-"+o.Name)
}

// The variables an InfluxDBAgentv2 reads its target from when record
// starts: those influxdb-client's InfluxDBClient.from_env_properties reads
// (URL, ORG, TOKEN, TIMEOUT in milliseconds, VERIFY_SSL, SSL_CA_CERT),
// INFLUXDB_V2_BUCKET, which the Python agent reads itself, and
// INFLUXDB_V2_TOKEN_FILE, as the _FILE forms of the v1 credentials.
const (
	EnvV2URL       = "INFLUXDB_V2_URL"
	EnvV2Org       = "INFLUXDB_V2_ORG"
	EnvV2Bucket    = "INFLUXDB_V2_BUCKET"
	EnvV2Token     = "INFLUXDB_V2_TOKEN"
	EnvV2TokenFile = "INFLUXDB_V2_TOKEN_FILE"
	EnvV2Timeout   = "INFLUXDB_V2_TIMEOUT"
	EnvV2VerifySSL = "INFLUXDB_V2_VERIFY_SSL"
	EnvV2CACert    = "INFLUXDB_V2_SSL_CA_CERT"
)

// V2Variables lists the variables of an InfluxDBAgentv2's target.
func V2Variables() []string {
	return []string{EnvV2URL, EnvV2Org, EnvV2Bucket, EnvV2Token, EnvV2TokenFile, EnvV2Timeout, EnvV2VerifySSL, EnvV2CACert}
}

// ShowVariable reports whether a variable of V2Variables or
// CredentialVariables may be printed (the target's URL, org, bucket,
// timeout and TLS settings) or must be redacted (tokens, passwords, user
// names and their files).
func ShowVariable(name string) bool {
	switch name {
	case EnvV2URL, EnvV2Org, EnvV2Bucket, EnvV2Timeout, EnvV2VerifySSL, EnvV2CACert:
		return true
	}
	return false
}

// influxdb-client's defaults for the variables it reads.
const (
	defaultV2URL   = "http://localhost:8086"
	defaultV2Org   = "my-org"
	defaultV2Token = "my-token"
)

// v2Target sets c's server, org, bucket, token, timeout and TLS from the
// INFLUXDB_V2_* variables, with influxdb-client's defaults.
func v2Target(c *publisher.OutputConfig, lookup func(string) (string, bool), readFile func(string) ([]byte, error)) error {
	get := func(name, def string) string {
		if v, ok := lookup(name); ok {
			return v
		}
		return def
	}
	c.API = publisher.APIv2
	c.URL = strings.TrimSuffix(get(EnvV2URL, defaultV2URL), "/")
	c.Org = get(EnvV2Org, defaultV2Org)
	c.Bucket = get(EnvV2Bucket, "")
	if c.Bucket == "" {
		return fmt.Errorf("%s is not set: it names the bucket to write to", EnvV2Bucket)
	}
	token, err := publisher.LookupSecret(lookup, readFile, EnvV2Token, EnvV2TokenFile, defaultV2Token)
	if err != nil {
		return err
	}
	c.Credentials = publisher.Credentials{Token: token}
	if v, ok := lookup(EnvV2Timeout); ok {
		ms, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || ms <= 0 {
			return fmt.Errorf("%s=%q: must be a positive number of milliseconds", EnvV2Timeout, v)
		}
		c.Timeout = time.Duration(ms) * time.Millisecond
	}
	// influxdb-client: true unless the text is not "yes" or "true".
	v := strings.ToLower(get(EnvV2VerifySSL, "true"))
	c.VerifySSL = v == "yes" || v == "true"
	c.CAFile = get(EnvV2CACert, "")
	return nil
}

// filter is the publisher's filter of --agents, --exclude-agents and
// --exclude-feeds.
func (o Options) filter() publisher.Filter {
	return publisher.Filter{Agents: o.Agents, ExcludeAgents: o.ExcludeAgents, ExcludeFeeds: o.ExcludeFeeds}
}
