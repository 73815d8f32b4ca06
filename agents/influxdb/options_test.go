package influxdb_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/site"
)

func TestDefaultsMatchPythonAgent(t *testing.T) {
	o := influxdb.Defaults()
	want := influxdb.Options{
		InitialState: "record", Host: "influxdb", Port: 8086, Database: "ocs_feeds", Protocol: "line",
		SSL: false, VerifySSL: false, Gzip: false,
		GzipLevel: 1, BatchPoints: 5000, BatchBytes: 4 << 20, FlushInterval: time.Second, BatchWait: 20 * time.Millisecond,
		SpoolMaxBytes: 1 << 30, SpoolMaxAge: 7 * 24 * time.Hour, SpoolSync: influxdb.SyncEveryBatch,
		MaxPendingBytes: 64 << 20, ShutdownTimeout: 10 * time.Second, OnSpoolError: "exit", MaxFeeds: 1000,
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("Defaults() = %+v\nwant %+v", o, want)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("Defaults().Validate() = %v", err)
	}
}

func TestFlagTable(t *testing.T) {
	var o influxdb.Options
	flags := o.Flags()
	python := map[string]struct {
		def     string
		choices string
		kind    site.Kind
	}{
		"initial-state": {"record", "idle,record", site.KindString},
		"host":          {"influxdb", "", site.KindString},
		"port":          {"8086", "", site.KindInt},
		"database":      {"ocs_feeds", "", site.KindString},
		"protocol":      {"line", "json,line", site.KindString},
		"ssl":           {"false", "", site.KindBool},
		"verify-ssl":    {"false", "", site.KindBool},
		"gzip":          {"false", "", site.KindBool},
	}
	seen := map[string]bool{}
	for _, f := range flags {
		if seen[f.Name] {
			t.Errorf("flag %s defined twice", f.Name)
		}
		seen[f.Name] = true
		if f.Help == "" {
			t.Errorf("--%s has no help", f.Name)
		}
		if p, ok := python[f.Name]; ok {
			if f.Group != influxdb.GroupAgent {
				t.Errorf("--%s in group %q, want %q", f.Name, f.Group, influxdb.GroupAgent)
			}
			if f.Default != p.def || strings.Join(f.Choices, ",") != p.choices || f.Kind() != p.kind {
				t.Errorf("--%s: default %q choices %q kind %s; want %q %q %s",
					f.Name, f.Default, f.Choices, f.Kind(), p.def, p.choices, p.kind)
			}
		} else if f.Group != influxdb.GroupExtension {
			t.Errorf("--%s is not a Python flag but is in group %q", f.Name, f.Group)
		}
	}
	for name := range python {
		if !seen[name] {
			t.Errorf("Python flag --%s missing", name)
		}
	}
}

func TestFlagsSetFields(t *testing.T) {
	o := influxdb.Defaults()
	set := map[string]string{
		"initial-state": "idle", "host": "db.example", "port": "18086", "database": "feeds", "protocol": "json",
		"ssl": "yes", "verify-ssl": "on", "gzip": "1", "url": "https://db.example/influx",
		"retention-policy": "autogen", "ca-file": "/etc/ca.pem", "batch-points": "100", "batch-bytes": "1MiB",
		"flush-interval": "250ms", "spool-dir": "/spool", "spool-max-bytes": "10MB", "spool-max-age": "1d",
		"spool-sync": "2s", "max-pending-bytes": "8MiB", "shutdown-timeout": "3s", "compression-level": "6", "batch-wait": "5ms",
		"output": "http://vm.example:8428/?api=v2&bucket=b&org=o&create=false", "no-create-database": "true", "on-spool-error": "memory", "max-feeds": "50",
		"agents": "observatory.acu*", "exclude-agents": "observatory.fake*", "exclude-feeds": "*.ocsflux_stats",
	}
	for _, f := range o.Flags() {
		v, ok := set[f.Name]
		if !ok {
			t.Fatalf("test does not set --%s", f.Name)
		}
		if err := f.Value.Set(v); err != nil {
			t.Fatalf("--%s %s: %v", f.Name, v, err)
		}
	}
	want := influxdb.Options{
		InitialState: "idle", Host: "db.example", Port: 18086, Database: "feeds", Protocol: "json",
		SSL: true, VerifySSL: true, Gzip: true, URL: "https://db.example/influx",
		RetentionPolicy: "autogen", CAFile: "/etc/ca.pem", BatchPoints: 100, BatchBytes: 1 << 20,
		FlushInterval: 250 * time.Millisecond, SpoolDir: "/spool", SpoolMaxBytes: 10e6, SpoolMaxAge: 24 * time.Hour,
		SpoolSync: influxdb.SpoolSync(2 * time.Second), MaxPendingBytes: 8 << 20, ShutdownTimeout: 3 * time.Second,
		GzipLevel: 6, BatchWait: 5 * time.Millisecond,
		Outputs:          []string{"http://vm.example:8428/?api=v2&bucket=b&org=o&create=false"},
		NoCreateDatabase: true, OnSpoolError: "memory", MaxFeeds: 50,
		Agents: []string{"observatory.acu*"}, ExcludeAgents: []string{"observatory.fake*"},
		ExcludeFeeds: []string{"*.ocsflux_stats"},
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got  %+v\nwant %+v", o, want)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		change func(*influxdb.Options)
		want   string
	}{
		{func(o *influxdb.Options) { o.InitialState = "running" }, `--initial-state: must be record or idle, got "running"`},
		{func(o *influxdb.Options) { o.Protocol = "xml" }, `--protocol: must be line or json, got "xml"`},
		{func(o *influxdb.Options) { o.Port = 0 }, "--port: must be from 1 to 65535, got 0"},
		{func(o *influxdb.Options) { o.Host = "" }, "--host: must not be empty"},
		{func(o *influxdb.Options) { o.Database = "" }, "--database: must not be empty"},
		{func(o *influxdb.Options) { o.URL = "ftp://x" }, `--url: must start with http:// or https://, got "ftp://x"`},
		{func(o *influxdb.Options) { o.URL = "http://" }, `--url: has no host: "http://"`},
		{func(o *influxdb.Options) { o.URL = "http://u:secret@db:8086" }, "--url: must not contain credentials"},
		{func(o *influxdb.Options) { o.URL = "http://db:8086/?db=x" }, "--url: must not have a query or fragment"},
		{func(o *influxdb.Options) { o.GzipLevel = 10 }, "--compression-level: must be from 1 to 9, got 10"},
		{func(o *influxdb.Options) { o.BatchPoints = 10001 }, "--batch-points: must be from 1 to 10000, got 10001"},
		{func(o *influxdb.Options) { o.BatchBytes = 17 << 20 }, "--batch-bytes: must be from 1 to 16MiB"},
		{func(o *influxdb.Options) { o.FlushInterval = 0 }, "--flush-interval: must be positive"},
		{func(o *influxdb.Options) { o.BatchWait = 0 }, "--batch-wait: must be positive"},
		{func(o *influxdb.Options) { o.SpoolMaxBytes = 0 }, "--spool-max-bytes: must be at least --batch-bytes + 64KiB (4160KiB), got 0"},
		{func(o *influxdb.Options) { o.SpoolMaxBytes = 4 << 20 }, "--spool-max-bytes: must be at least --batch-bytes + 64KiB (4160KiB), got 4MiB"},
		{func(o *influxdb.Options) { o.SpoolMaxAge = -time.Second }, "--spool-max-age: must be positive"},
		{func(o *influxdb.Options) { o.MaxPendingBytes = 1 << 20 }, "--max-pending-bytes: must be at least --batch-bytes"},
		{func(o *influxdb.Options) { o.ShutdownTimeout = 0 }, "--shutdown-timeout: must be positive"},
	}
	for _, tt := range tests {
		o := influxdb.Defaults()
		tt.change(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want it to contain %q", err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	// A URL replaces host and port, which are then not checked.
	o := influxdb.Defaults()
	o.URL, o.Host, o.Port = "http://[::1]:8086/prefix", "", 0
	if err := o.Validate(); err != nil {
		t.Errorf("URL without host/port: %v", err)
	}
}

func TestSpoolSync(t *testing.T) {
	for in, want := range map[string]string{"batch": "batch", "never": "never", "5s": "5s", "90": "1m30s", "1d": "1d"} {
		o := influxdb.Defaults()
		if err := setFlag(&o, "spool-sync", in); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := o.SpoolSync.String(); got != want {
			t.Errorf("--spool-sync %s: String() = %q, want %q", in, got, want)
		}
	}
	for _, in := range []string{"0", "-1s", "always", ""} {
		o := influxdb.Defaults()
		if err := setFlag(&o, "spool-sync", in); err == nil {
			t.Errorf("--spool-sync %q accepted", in)
		}
	}
}

func setFlag(o *influxdb.Options, name, v string) error {
	for _, f := range o.Flags() {
		if f.Name == name {
			return f.Value.Set(v)
		}
	}
	return nil
}

func TestDefaultSpoolDir(t *testing.T) {
	if got := influxdb.DefaultSpoolDir("influxagent"); got != "ocsflux-spool-influxagent" {
		t.Errorf("DefaultSpoolDir = %q", got)
	}
}
