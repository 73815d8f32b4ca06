package site_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/site"
)

// noSite is a command line that needs no site file (--site none), so that
// the argparse rules can be tested on their own.
var noSite = []string{"--site", "none", "--agent-class", "InfluxDBAgent", "--instance-id", "influxagent",
	"--site-hub", "ws://router:8001/ws", "--site-realm", "test_realm", "--address-root", "observatory"}

func resolveArgs(t *testing.T, extra ...string) (*site.Resolved, error) {
	t.Helper()
	return site.Resolve(site.Request{
		Args:       append(append([]string(nil), noSite...), extra...),
		AgentFlags: testAgentFlags,
	})
}

func agentValue(t *testing.T, r *site.Resolved, name string) any {
	t.Helper()
	for _, s := range r.AgentSettings {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("no agent setting %s", name)
	return nil
}

func TestArgparseRules(t *testing.T) {
	tests := []struct {
		name string
		args []string
		flag string
		want any
	}{
		{"space form", []string{"--port", "9999"}, "port", 9999},
		{"equals form", []string{"--port=9999"}, "port", 9999},
		{"last wins", []string{"--port=1", "--port", "2"}, "port", 2},
		// OCS merges repeated keys first: "--port 3" takes the first --port's
		// place, before --port=2.
		{"repeated key merged first", []string{"--port", "1", "--port=2", "--port", "3"}, "port", 2},
		{"prefix", []string{"--po", "9999"}, "port", 9999},
		{"prefix with equals", []string{"--init=idle"}, "initial-state", "idle"},
		{"prefix of choice flag", []string{"--proto", "json"}, "protocol", "json"},
		{"python int syntax", []string{"--port", " +8_087 "}, "port", 8087},
		{"empty string value", []string{"--database", ""}, "database", ""},
		{"value with space is a value", []string{"--database", "-a b"}, "database", "-a b"},
		{"negative number is a value", []string{"--batch-points", "-5", "--batch-points", "7"}, "batch-points", 7},
		{"bare bool", []string{"--gzip"}, "gzip", true},
		{"bare bool then option", []string{"--gzip", "--port", "1"}, "gzip", true},
		{"bool True", []string{"--gzip", "True"}, "gzip", true},
		{"bool yes", []string{"--gzip", "YES"}, "gzip", true},
		{"bool on", []string{"--gzip=on"}, "gzip", true},
		{"bool 1", []string{"--gzip", "1"}, "gzip", true},
		{"bool False", []string{"--gzip", "False"}, "gzip", false},
		{"bool no", []string{"--gzip", "no"}, "gzip", false},
		{"bool off", []string{"--gzip", "off"}, "gzip", false},
		{"bool 0", []string{"--gzip", "0"}, "gzip", false},
		{"bool empty", []string{"--gzip="}, "gzip", false},
		{"bool prefix", []string{"--verify", "true"}, "verify-ssl", true},
		{"duration", []string{"--flush-interval", "250ms"}, "flush-interval", "250ms"},
		{"duration seconds", []string{"--shutdown-timeout", "2.5"}, "shutdown-timeout", "2.5s"},
		{"duration days", []string{"--spool-max-age", "2d"}, "spool-max-age", "2d"},
		{"bytes", []string{"--batch-bytes", "1MiB"}, "batch-bytes", int64(1 << 20)},
		{"bytes decimal", []string{"--spool-max-bytes", "2GB"}, "spool-max-bytes", int64(2e9)},
		{"spool sync interval", []string{"--spool-sync", "5s"}, "spool-sync", "5s"},
		{"spool sync never", []string{"--spool-sync", "never"}, "spool-sync", "never"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := resolveArgs(t, tt.args...)
			if err != nil {
				t.Fatalf("%q: %v", tt.args, err)
			}
			if got := agentValue(t, r, tt.flag); got != tt.want {
				t.Errorf("%q: %s = %#v, want %#v", tt.args, tt.flag, got, tt.want)
			}
		})
	}
}

func TestArgparseErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--protocol", "xml"}, "argument --protocol: invalid choice: 'xml' (choose from 'json', 'line')"},
		{[]string{"--initial-state", "Record"}, "argument --initial-state: invalid choice: 'Record' (choose from 'idle', 'record')"},
		// OCS's pre-parser (site options only) sees the ambiguity first.
		{[]string{"--s", "x"}, "ambiguous option: --s could match --site, --site-file, --site-host, --site-hub, --site-http, --site-realm"},
		{[]string{"--ss", "--s", "x"}, "ambiguous option: --s could match --site, --site-file, --site-host, --site-hub, --site-http, --site-realm"},
		{[]string{"--in", "x"}, "ambiguous option: --in could match --initial-state, --instance-id"},
		{[]string{"--host"}, "argument --host: expected one argument"},
		{[]string{"--host", "-x"}, "argument --host: expected one argument"},
		{[]string{"--database", "-1e3"}, "argument --database: expected one argument"},
		{[]string{"--host", "--", "x"}, "argument --host: expected one argument"},
		{[]string{"--bogus", "1", "--port", "2", "x"}, "unrecognized arguments: --bogus 1 x"},
		{[]string{"--", "--port", "1"}, "unrecognized arguments: --port 1"},
		{[]string{"-x"}, "unrecognized arguments: -x"},
		{[]string{"--port", "0"}, "argument --port: invalid value: '0' (must be an integer from 1 to 65535)"},
		{[]string{"--port", "65536"}, "argument --port: invalid value: '65536' (must be an integer from 1 to 65535)"},
		{[]string{"--port", "8086.0"}, "argument --port: invalid int value: '8086.0'"},
		{[]string{"--port", ""}, "argument --port: invalid int value: ''"},
		{[]string{"--gzip", "maybe"}, "argument --gzip: invalid boolean value: 'maybe' (use true/false, yes/no, on/off or 1/0)"},
		{[]string{"--ssl=2"}, "argument --ssl: invalid boolean value: '2' (use true/false, yes/no, on/off or 1/0)"},
		{[]string{"--batch-points", "10001"}, "argument --batch-points: invalid value: '10001' (must be an integer from 1 to 10000)"},
		{[]string{"--batch-bytes", "4 parsecs"}, "argument --batch-bytes: invalid size: '4 parsecs' (use e.g. 4MiB, 512KiB, 1GiB or a number of bytes)"},
		{[]string{"--flush-interval", "soon"}, "argument --flush-interval: invalid duration: 'soon' (use e.g. 500ms, 10s, 5m, 1h or 7d)"},
		{[]string{"--spool-sync", "always"}, "argument --spool-sync: invalid value: 'always' (use batch, never, or an interval such as 5s)"},
		{[]string{"--crossbar-timeout", "1.5"}, "argument --crossbar-timeout: invalid int value: '1.5'"},
		// An error in an earlier occurrence is reported even if a later one is fine.
		{[]string{"--protocol=xml", "--protocol", "line"}, "argument --protocol: invalid choice: 'xml' (choose from 'json', 'line')"},
	}
	for _, tt := range tests {
		_, err := resolveArgs(t, tt.args...)
		var ue *site.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want usage error %q", tt.args, err, tt.want)
			continue
		}
		if ue.Error() != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.args, ue.Error(), tt.want)
		}
	}
}

func TestHelpBeforeAnything(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"--he"}, {"--instance-id", "x", "--hel"}, {"--site-file", "/nonexistent", "-h"}} {
		_, err := site.Resolve(site.Request{Args: args})
		var h *site.HelpRequested
		if !errors.As(err, &h) {
			t.Errorf("%q: got %v, want HelpRequested", args, err)
		}
		if !site.IsHelpRequest(args) {
			t.Errorf("IsHelpRequest(%q) = false", args)
		}
	}
	// "--h" is help for OCS's pre-parser (only --help starts with it among
	// the site options), so Resolve reports help; IsHelpRequest, checked
	// before the agent class is known, leaves it to Resolve.
	if _, err := site.Resolve(site.Request{Args: []string{"--h", "x"}}); !errors.As(err, new(*site.HelpRequested)) {
		t.Errorf("--h x: got %v, want HelpRequested", err)
	}
	for _, args := range [][]string{{"--h"}, {"--host", "x"}, {"--", "-h"}, {"-hx"}} {
		if site.IsHelpRequest(args) {
			t.Errorf("IsHelpRequest(%q) = true", args)
		}
	}
}

func TestFalseWordWarning(t *testing.T) {
	r, err := resolveArgs(t, "--ssl", "False", "--gzip", "no", "--gzip", "off", "--verify-ssl=")
	if err != nil {
		t.Fatal(err)
	}
	var warns []string
	for _, w := range r.Warnings {
		if strings.Contains(w, "Python agent reads") {
			warns = append(warns, w)
		}
	}
	// One warning per flag whose final value is a non-empty false word;
	// "--verify-ssl=" (empty) is false in Python too.
	if len(warns) != 2 || !strings.HasPrefix(warns[0], "--ssl False:") || !strings.HasPrefix(warns[1], "--gzip off:") {
		t.Errorf("warnings = %q", warns)
	}
}

func TestMergeArgs(t *testing.T) {
	scf := site.Args([]string{"pos", "--initial-state", "record", "--port", "8086", "--gzip", "True", "--port", "1", "-5"}, site.SourceSCF, "")
	tests := []struct {
		cmdline []string
		want    string
	}{
		{nil, "--initial-state record --port 1 -5 --gzip True"},
		{[]string{"--port", "9999"}, "--initial-state record --port 9999 --gzip True"},
		{[]string{"--port=9999"}, "--initial-state record --port 1 -5 --gzip True --port=9999"},
		{[]string{"x", "--new", "--gzip", "a", "b"}, "x --initial-state record --port 1 -5 --gzip a b --new"},
		{[]string{"--", "-"}, "-- - --initial-state record --port 1 -5 --gzip True"},
	}
	for _, tt := range tests {
		got := strings.Join(site.Texts(site.MergeArgs(scf, site.Args(tt.cmdline, site.SourceCommandLine, ""))), " ")
		if got != tt.want {
			t.Errorf("cmdline %q:\n got %q\nwant %q", tt.cmdline, got, tt.want)
		}
	}
}

func TestIsKeyToken(t *testing.T) {
	for s, want := range map[string]bool{
		"--port": true, "-x": true, "--port=1": true, "---a": true, "--é": true,
		"-5": false, "-0.1": false, "--5": false, "": false, "-": false, "--": false, "---": false, "port": false, "-_x": false,
	} {
		if got := site.IsKeyToken(s); got != want {
			t.Errorf("IsKeyToken(%q) = %v, want %v", s, got, want)
		}
	}
}
