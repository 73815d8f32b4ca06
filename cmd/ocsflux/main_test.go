package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/site"
)

// ocsLike is the site config of the acceptance command (spec §9.6 plus
// more hosts), shared with the site package's golden tests.
var ocsLike = filepath.Join("..", "..", "site", "testdata", "ocs-like.yaml")

type result struct {
	code           int
	stdout, stderr string
}

func runMain(t *testing.T, env map[string]string, hostname string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), Env{
		Args: args,
		LookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
		Hostname: hostname,
		Stdout:   &stdout,
		Stderr:   &stderr,
	})
	return result{code, stdout.String(), stderr.String()}
}

// printedConfig is the part of --print-config the tests read.
type printedConfig struct {
	AgentClass   string                     `json:"agent_class"`
	InstanceID   string                     `json:"instance_id"`
	AgentAddress string                     `json:"agent_address"`
	SiteFile     string                     `json:"site_file"`
	Host         string                     `json:"host"`
	SiteOptions  map[string]printedSetting  `json:"site_options"`
	AgentOptions map[string]printedSetting  `json:"agent_options"`
	Credentials  map[string]printedSetting  `json:"credentials"`
	LogLevel     printedSetting             `json:"log_level"`
	Arguments    []string                   `json:"arguments"`
	Warnings     []string                   `json:"warnings"`
	Extra        map[string]json.RawMessage `json:"-"`
}

type printedSetting struct {
	Value  any    `json:"value"`
	Source string `json:"source"`
	From   string `json:"from"`
}

func printConfig(t *testing.T, env map[string]string, hostname string, args ...string) printedConfig {
	t.Helper()
	r := runMain(t, env, hostname, append(args, "--print-config")...)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	var pc printedConfig
	if err := json.Unmarshal([]byte(r.stdout), &pc); err != nil {
		t.Fatalf("--print-config output is not JSON: %v\n%s", err, r.stdout)
	}
	return pc
}

// TestPrintConfigAcceptance runs the acceptance command and checks every
// value against what OCS's site_config.parse_args resolves for the same
// file and command line (InfluxDBAgent parser; obtained by running OCS
// 4199ac1's ocs/site_config.py with PyYAML on this file), except where
// ocsflux deliberately differs: --port is an int (Python keeps the string
// "8086") and site-file is absolute.
func TestPrintConfigAcceptance(t *testing.T) {
	pc := printConfig(t, nil, "some-machine",
		"--site-file", ocsLike, "--site-host", "ocs-docker", "--instance-id", "influxagent")

	abs, err := filepath.Abs(ocsLike)
	if err != nil {
		t.Fatal(err)
	}
	if pc.AgentClass != "InfluxDBAgent" || pc.InstanceID != "influxagent" ||
		pc.AgentAddress != "observatory.influxagent" || pc.Host != "ocs-docker" || pc.SiteFile != abs {
		t.Errorf("identity: %+v", pc)
	}
	python := map[string]any{ // vars(args) of the Python agent, by flag name
		"site": nil, "site-file": abs, "site-host": "ocs-docker",
		"site-hub": "ws://crossbar:8001/ws", "site-http": "http://crossbar:8001/call", "site-realm": "test_realm",
		"instance-id": "influxagent", "address-root": "observatory", "registry-address": nil,
		"log-dir": nil, "working-dir": nil, "crossbar-timeout": float64(20), "access-policy": nil,
		"initial-state": "record", "host": "influxdb", "port": float64(8086), "database": "ocs_feeds",
		"protocol": "line", "ssl": false, "verify-ssl": false, "gzip": true,
	}
	sources := map[string]string{
		"site-file": "command line", "site-host": "command line", "instance-id": "command line",
		"site-hub": "scf", "site-http": "scf", "site-realm": "scf", "address-root": "scf", "crossbar-timeout": "scf",
		"site": "default", "log-dir": "default", "access-policy": "default",
		"initial-state": "scf", "host": "scf", "port": "scf", "database": "scf", "protocol": "scf", "gzip": "scf",
		"ssl": "default", "verify-ssl": "default",
	}
	for name, want := range python {
		s, ok := pc.SiteOptions[name]
		if !ok {
			s, ok = pc.AgentOptions[name]
		}
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if s.Value != want {
			t.Errorf("%s = %#v, want %#v", name, s.Value, want)
		}
		if src, ok := sources[name]; ok && s.Source != src {
			t.Errorf("%s source = %q, want %q", name, s.Source, src)
		}
	}
	if got := pc.SiteOptions["site-hub"].From; got != "hosts.ocs-docker.wamp_server" {
		t.Errorf("site-hub from %q", got)
	}
	if got := pc.AgentOptions["spool-dir"].Value; got != "ocsflux-spool-influxagent" {
		t.Errorf("spool-dir = %v", got)
	}
	if len(pc.Credentials) != 6 || pc.LogLevel.Value != "info" || len(pc.Warnings) != 0 {
		t.Errorf("credentials %v, log level %v, warnings %v", pc.Credentials, pc.LogLevel, pc.Warnings)
	}
	wantArgs := "--initial-state record --host influxdb --port 8086 --database ocs_feeds --protocol line --gzip True " +
		"--site-file " + ocsLike + " --site-host ocs-docker --instance-id influxagent --print-config"
	if got := strings.Join(pc.Arguments, " "); got != wantArgs {
		t.Errorf("arguments:\n got %s\nwant %s", got, wantArgs)
	}
}

func TestPrintConfigFakeData(t *testing.T) {
	pc := printConfig(t, nil, "ocs-docker", "--site-file", ocsLike, "--instance-id", "fake-data1")
	want := map[string]any{"mode": "acq", "num-channels": float64(16), "sample-rate": float64(5), "frame-length": float64(10)}
	for name, v := range want {
		if got := pc.AgentOptions[name].Value; got != v {
			t.Errorf("%s = %#v, want %#v", name, got, v)
		}
	}
	if pc.Credentials != nil {
		t.Errorf("FakeDataAgent shows credentials: %v", pc.Credentials)
	}
}

func TestInstanceIDFromEnvironment(t *testing.T) {
	env := map[string]string{"INSTANCE_ID": "influxagent", "SITE_HOST": "ocs-docker",
		"SITE_HUB": "ws://10.0.0.1:8001/ws", "CROSSBAR_TIMEOUT": "0", "LOGLEVEL": "DEBUG"}
	pc := printConfig(t, env, "", "--site-file", ocsLike)
	for name, want := range map[string]printedSetting{
		"instance-id":      {"influxagent", "environment", "$INSTANCE_ID"},
		"site-host":        {"ocs-docker", "environment", "$SITE_HOST"},
		"site-hub":         {"ws://10.0.0.1:8001/ws", "environment", "$SITE_HUB"},
		"crossbar-timeout": {float64(0), "environment", "$CROSSBAR_TIMEOUT"},
	} {
		if got := pc.SiteOptions[name]; got != want {
			t.Errorf("%s = %+v, want %+v", name, got, want)
		}
	}
	if pc.LogLevel != (printedSetting{"debug", "environment", ""}) {
		t.Errorf("log level %+v", pc.LogLevel)
	}
}

func TestMissingInstanceID(t *testing.T) {
	r := runMain(t, map[string]string{"OCS_CONFIG_DIR": t.TempDir()}, "h")
	if r.code != 1 || r.stdout != "--instance-id (or $INSTANCE_ID) not provided. Exiting.\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	base := []string{"--site-file", ocsLike, "--site-host", "ocs-docker", "--instance-id", "influxagent"}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus", "1"}, "ocsflux: error: unrecognized arguments: --bogus 1\n"},
		{[]string{"--protocol", "xml"}, "ocsflux: error: argument --protocol: invalid choice: 'xml' (choose from 'json', 'line')\n"},
		{[]string{"--init", "recording"}, "ocsflux: error: argument --initial-state: invalid choice: 'recording' (choose from 'idle', 'record')\n"},
		{[]string{"--gzip", "maybe"}, "ocsflux: error: argument --gzip: invalid boolean value: 'maybe' (use true/false, yes/no, on/off or 1/0)\n"},
		{[]string{"--port", "0"}, "ocsflux: error: argument --port: invalid value: '0' (must be an integer from 1 to 65535)\n"},
		{[]string{"--port=influx"}, "ocsflux: error: argument --port: invalid int value: 'influx'\n"},
		{[]string{"--mode", "acq"}, "ocsflux: error: unrecognized arguments: --mode acq\n"},
		{[]string{"--batch-bytes", "32MiB"}, "ocsflux: error: --batch-bytes: must be from 1 to 16MiB, got 33554432\n"},
		{[]string{"--p", "x"}, "ocsflux: error: ambiguous option: --p could match --port, --protocol, --print-config\n"},
	} {
		r := runMain(t, nil, "", append(append([]string(nil), base...), tt.args...)...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, tt.want) || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and stderr %q", tt.args, r.code, r.stdout, r.stderr, tt.want)
		}
	}
}

func TestHelpBeforeSiteConfig(t *testing.T) {
	for _, args := range [][]string{
		{"--site-file", "/nonexistent/site.yaml", "--instance-id", "x", "-h"},
		{"agent", "--help"},
		{"--bogus", "--hel"},
	} {
		r := runMain(t, nil, "", args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
			continue
		}
		for _, want := range []string{"Usage: ocsflux agent", "Site Config Options:", "Agent Options (InfluxDBAgent):",
			"ocsflux Options (InfluxDBAgent, InfluxDBAgentv2):", "Agent Options (FakeDataAgent):", "--print-config"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%q: help lacks %q", args, want)
			}
		}
	}
}

// TestHelpListsEveryFlag checks that help and the parser come from the same
// table: every flag the agent accepts is in the help, and the help lists no
// other flag.
func TestHelpListsEveryFlag(t *testing.T) {
	r := runMain(t, nil, "", "agent", "--help")
	inHelp := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-h, )?--([a-z-]+)`).FindAllStringSubmatch(r.stdout, -1) {
		inHelp[m[1]] = true
	}
	delete(inHelp, "help")
	for _, f := range helpFlags() {
		if !inHelp[f.Name] {
			t.Errorf("--%s is not in the help", f.Name)
		}
		delete(inHelp, f.Name)
	}
	for name := range inHelp {
		t.Errorf("help lists --%s, which no table defines", name)
	}
}

func TestRootHelpListsOnlyWorkingCommands(t *testing.T) {
	r := runMain(t, nil, "", "--help")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	_, cmds, ok := strings.Cut(r.stdout, "Commands:\n")
	if !ok {
		t.Fatalf("no command list:\n%s", r.stdout)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^  (\w+)`).FindAllStringSubmatch(cmds, -1) {
		names = append(names, m[1])
	}
	if strings.Join(names, ",") != "agent,router,client,demo,bench,version" {
		t.Errorf("commands in help: %v", names)
	}
}

func TestUnknownAgentClass(t *testing.T) {
	dir := t.TempDir()
	scf := filepath.Join(dir, "default.yaml")
	writeFile(t, scf, `hub: {wamp_server: ws://localhost:8001/ws, wamp_realm: test_realm, address_root: observatory}
hosts:
  localhost:
    agent-instances:
      - {agent-class: AggregatorAgent, instance-id: aggregator, arguments: [--initial-state, idle]}
`)
	r := runMain(t, map[string]string{"OCS_CONFIG_DIR": dir}, "somehost", "--instance-id", "aggregator")
	want := `ocsflux: site file ` + scf + `: host "localhost": instance "aggregator": agent-class AggregatorAgent is not implemented by this ocsflux binary (it implements FakeDataAgent, InfluxDBAgent, InfluxDBAgentv2)` + "\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", r.code, r.stderr, want)
	}
}

func TestAccessPolicyOtherThanNone(t *testing.T) {
	for _, p := range []string{"none", ""} {
		r := runMain(t, nil, "ocs-docker", "--site-file", ocsLike, "--instance-id", "influxagent", "--access-policy", p, "--print-config")
		if r.code != 0 {
			t.Errorf("policy %q: exit %d: %s", p, r.code, r.stderr)
		}
	}
	r := runMain(t, nil, "ocs-docker", "--site-file", ocsLike, "--instance-id", "influxagent", "--access-policy", "director:access-dir")
	want := `ocsflux: access policy "director:access-dir" (from command line): only policy none is implemented by ocsflux` + "\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestFalseWordWarnsOnce(t *testing.T) {
	r := runMain(t, nil, "", "--site-file", ocsLike, "--site-host", "ocs-docker", "--instance-id", "influxagent",
		"--ssl", "False", "--print-config")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if n := strings.Count(r.stderr, "level=WARN"); n != 1 || !strings.Contains(r.stderr, "--ssl False: ocsflux reads this as false") {
		t.Errorf("%d warnings:\n%s", n, r.stderr)
	}
	var pc printedConfig
	if err := json.Unmarshal([]byte(r.stdout), &pc); err != nil {
		t.Fatal(err)
	}
	if pc.AgentOptions["ssl"].Value != false || len(pc.Warnings) != 1 {
		t.Errorf("ssl %v, warnings %v", pc.AgentOptions["ssl"], pc.Warnings)
	}
}

func TestSecretsRedacted(t *testing.T) {
	env := map[string]string{"INFLUXDB_PASSWORD": "hunter2", "INFLUXDB_USERNAME_FILE": "/run/secrets/user"}
	r := runMain(t, env, "ocs-docker", "--site-file", ocsLike, "--instance-id", "influxagent",
		"--site-hub", "wss://ocs:s3cret@router:8001/ws", "--print-config")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, secret := range []string{"hunter2", "s3cret", "/run/secrets/user"} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("output shows %q:\n%s", secret, r.stdout)
		}
	}
	var pc printedConfig
	if err := json.Unmarshal([]byte(r.stdout), &pc); err != nil {
		t.Fatal(err)
	}
	if got := pc.SiteOptions["site-hub"].Value; got != "wss://ocs:***@router:8001/ws" {
		t.Errorf("site-hub %v", got)
	}
	if pc.Credentials["INFLUXDB_PASSWORD"].Value != "***" || pc.Credentials["INFLUXDB_USERNAME_FILE"].Value != "***" ||
		pc.Credentials["INFLUXDB_TOKEN"].Value != nil {
		t.Errorf("credentials %+v", pc.Credentials)
	}
}

// TestStartupLog checks the info-level log of the resolved configuration
// that precedes running the agent.
func TestStartupLog(t *testing.T) {
	var stderr bytes.Buffer
	env := Env{
		Args: []string{"--site-file", ocsLike, "--site-host", "ocs-docker", "--instance-id", "influxagent", "--site-http", "http://u:pw@x/call"},
		LookupEnv: func(k string) (string, bool) {
			v, ok := map[string]string{"INFLUXDB_PASSWORD": "hunter2"}[k]
			return v, ok
		},
		Stdout: &bytes.Buffer{}, Stderr: &stderr,
	}
	p, code := prepareAgent(env, env.Args)
	if p == nil {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	p.cfg.Version = "test"
	p.report = newConfigReport(p.cfg, site.SourceDefault)
	p.report.log(p.cfg.Logger)
	out := stderr.String()
	for _, want := range []string{
		`level=INFO msg="ocsflux starting" version=test agent_class=InfluxDBAgent instance_id=influxagent`,
		`level=INFO msg="site option" option=site-hub value=ws://crossbar:8001/ws source=scf from=hosts.ocs-docker.wamp_server`,
		`level=INFO msg="site option" option=site-http value=http://u:***@x/call source="command line"`,
		`level=INFO msg="agent option" option=port value=8086 source=scf from="hosts.ocs-docker instance influxagent arguments"`,
		`level=INFO msg="agent option" option=ssl value=false source=default`,
		`level=INFO msg="credential variable" option=INFLUXDB_PASSWORD value=*** source=environment`,
		`level=INFO msg="log level" option=LOGLEVEL value=info source=default`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s\nlog:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") || strings.Contains(out, ":pw@") {
		t.Errorf("log shows a secret:\n%s", out)
	}
}

func TestBadLogLevel(t *testing.T) {
	r := runMain(t, map[string]string{"LOGLEVEL": "verbose"}, "", "--instance-id", "x")
	if r.code != 1 || !strings.Contains(r.stderr, `LOGLEVEL="verbose": not a log level`) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	r := runMain(t, nil, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ocsflux ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := runMain(t, nil, "", "version", "extra"); r.code != 2 {
		t.Errorf("version extra: exit %d", r.code)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCPUProfileEnv: the profile OCSFLUX_CPUPROFILE asks for is a gzipped
// pprof file; a path that cannot be created is an error.
func TestCPUProfileEnv(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "cpu.prof")
	stop, err := startCPUProfile(prof)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	b, err := os.ReadFile(prof)
	if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b { // pprof profiles are gzipped protobuf
		t.Fatalf("profile %d bytes, err %v", len(b), err)
	}
	if _, err := startCPUProfile(filepath.Join(dir, "missing", "cpu.prof")); err == nil || !strings.Contains(err.Error(), "cpu profile") {
		t.Errorf("bad path: err %v", err)
	}
}

// TestDurationsTakeSeconds: every command's DURATION reads as the agent
// options do: a bare number is seconds (make demo DURATION=30).
func TestDurationsTakeSeconds(t *testing.T) {
	r := runMain(t, nil, "", "demo", "--duration", "30", "--sample-rate=-1")
	if r.code != 2 || !strings.Contains(r.stderr, "--sample-rate -1: must be positive") {
		t.Errorf("--duration 30: exit %d, stderr %q (want only the --sample-rate error)", r.code, r.stderr)
	}
	r = runMain(t, nil, "", "demo", "--duration", "30x")
	if r.code != 2 || !strings.Contains(r.stderr, "--duration: invalid duration: '30x'") {
		t.Errorf("--duration 30x: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestVersionFlag: ocsflux --version prints the version, as ocsflux
// version does (it used to say "--instance-id not provided" and exit 1).
func TestVersionFlag(t *testing.T) {
	r := runMain(t, nil, "", "--version")
	if r.code != 0 || r.stdout != versionLine()+"\n" || r.stderr != "" {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestUnusableSpoolDirExits: a spool directory that cannot be used is an
// error naming it and exit status 1, before anything is contacted
// (--on-spool-error exit, the default); record used to end with a false
// "Failed to connect to InfluxDB" while the agent stayed up.
func TestUnusableSpoolDirExits(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "not a directory")
	spool := filepath.Join(file, "spool")
	r := runMain(t, nil, "ocs-docker", "--site-file", ocsLike, "--instance-id", "influxagent", "--spool-dir", spool)
	if r.code != 1 || !strings.Contains(r.stderr, "spool directory "+spool+" cannot be used") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
