package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestInfluxDBAgentv2SiteEntry: the site entry and compose environment of
// OCS's docs/agents/influxdb_publisher_v2.rst (INSTANCE_ID=influxagent and
// the .env's INFLUXDB_V2_* variables) resolve unchanged: agent-class
// InfluxDBAgentv2, its three Python options, the target variables shown
// with the token redacted, and none of InfluxDBAgent's target flags.
func TestInfluxDBAgentv2SiteEntry(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "default.yaml"), `hub:
  wamp_server: ws://localhost:8001/ws
  wamp_http: http://localhost:8001/call
  wamp_realm: test_realm
  address_root: observatory
hosts:
  ocs-docker:
    agent-instances:
      - {'agent-class': 'InfluxDBAgentv2',
         'instance-id': 'influxagent',
         'arguments': ['--initial-state', 'record']}
`)
	const token = "s3cret-token-value"
	env := map[string]string{
		"OCS_CONFIG_DIR": dir, "INSTANCE_ID": "influxagent",
		"INFLUXDB_V2_URL": "http://influxdb:8086", "INFLUXDB_V2_ORG": "ocs",
		"INFLUXDB_V2_BUCKET": "ocs_feeds", "INFLUXDB_V2_TOKEN": token,
	}
	r := runMain(t, env, "ocs-docker", "--print-config")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, token) || strings.Contains(r.stderr, token) {
		t.Errorf("the token is printed:\n%s", r.stdout)
	}
	pc := printConfig(t, env, "ocs-docker")
	if pc.AgentClass != "InfluxDBAgentv2" || pc.InstanceID != "influxagent" {
		t.Errorf("agent class %q instance %q", pc.AgentClass, pc.InstanceID)
	}
	if s := pc.AgentOptions["initial-state"]; s.Value != "record" || s.Source != "scf" {
		t.Errorf("initial-state %+v", s)
	}
	for _, name := range []string{"protocol", "gzip", "spool-dir", "output"} {
		if _, ok := pc.AgentOptions[name]; !ok {
			t.Errorf("option --%s missing", name)
		}
	}
	for _, name := range []string{"host", "port", "database", "ssl", "verify-ssl", "url"} {
		if _, ok := pc.AgentOptions[name]; ok {
			t.Errorf("InfluxDBAgentv2 has InfluxDBAgent's --%s", name)
		}
	}
	for name, want := range map[string]string{
		"INFLUXDB_V2_URL": "http://influxdb:8086", "INFLUXDB_V2_ORG": "ocs", "INFLUXDB_V2_BUCKET": "ocs_feeds", "INFLUXDB_V2_TOKEN": "***",
	} {
		if s := pc.Credentials[name]; s.Value != want || s.Source != "environment" {
			t.Errorf("%s: %+v, want %q from the environment", name, s, want)
		}
	}
	// InfluxDBAgent's target flags are not InfluxDBAgentv2's.
	r = runMain(t, env, "ocs-docker", "--host", "x")
	if r.code != 2 || !strings.Contains(r.stderr, "unrecognized arguments: --host x") {
		t.Errorf("--host with InfluxDBAgentv2: exit %d, stderr %q", r.code, r.stderr)
	}
}
