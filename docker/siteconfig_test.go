package docker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildOcsflux builds ./cmd/ocsflux into a temporary directory.
func buildOcsflux(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ocsflux")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ocsflux")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ocsflux: %v\n%s", err, out)
	}
	return bin
}

// resolvedConfig is the part of `ocsflux --print-config` the test reads.
type resolvedConfig struct {
	AgentClass   string `json:"agent_class"`
	InstanceID   string `json:"instance_id"`
	AgentAddress string `json:"agent_address"`
	Host         string `json:"host"`
	SiteOptions  map[string]struct {
		Value any `json:"value"`
	} `json:"site_options"`
	AgentOptions map[string]struct {
		Value any `json:"value"`
	} `json:"agent_options"`
}

// TestSiteConfigResolves runs ocsflux itself on the example site config
// for every agent service of docker-compose.yml, as the container would
// (OCS_CONFIG_DIR=/config holding docker/config, host name = the service's
// hostname, the service's command), and checks what it resolves: the
// agent class of the site-config entry, the router's URLs on ocs-net, the
// publisher's InfluxDB and a spool directory relative to the working
// directory, i.e. inside the image's /var/lib/ocsflux volume.
func TestSiteConfigResolves(t *testing.T) {
	bin := buildOcsflux(t)
	sc := loadSiteConfig(t)
	p := composeConfig(t, filepath.Join(dockerDir(t), "docker-compose.yml"), filepath.Join(dockerDir(t), "config"))
	for name, svc := range p.Services {
		if !strings.HasPrefix(name, "ocs-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			args := append([]string{"--site-host", svc.Hostname}, svc.Command...)
			args = append(args, "--print-config")
			cmd := exec.CommandContext(ctx, bin, args...)
			env := []string{"OCS_CONFIG_DIR=" + filepath.Join(dockerDir(t), "config")}
			for k, v := range svc.Environment {
				env = append(env, k+"="+v)
			}
			cmd.Env = env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("ocsflux %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
			}
			var rc resolvedConfig
			if err := json.Unmarshal(stdout.Bytes(), &rc); err != nil {
				t.Fatalf("--print-config output: %v\n%s", err, stdout.String())
			}
			id := strings.TrimPrefix(name, "ocs-")
			wantClass := ""
			for _, inst := range sc.Hosts[svc.Hostname].Instances {
				if inst.ID == id {
					wantClass = inst.Class
				}
			}
			if rc.InstanceID != id || rc.AgentClass != wantClass || rc.Host != svc.Hostname {
				t.Errorf("resolved instance %q class %q host %q, want %q %q %q",
					rc.InstanceID, rc.AgentClass, rc.Host, id, wantClass, svc.Hostname)
			}
			if rc.AgentAddress != sc.Hub.AddressRoot+"."+id {
				t.Errorf("agent address %q, want %s.%s", rc.AgentAddress, sc.Hub.AddressRoot, id)
			}
			host := sc.Hosts[svc.Hostname]
			if got := rc.SiteOptions["site-hub"].Value; got != host.WampServer {
				t.Errorf("site-hub %v, want the docker host's %s", got, host.WampServer)
			}
			if got := rc.SiteOptions["site-http"].Value; got != host.WampHTTP {
				t.Errorf("site-http %v, want the docker host's %s", got, host.WampHTTP)
			}
			if rc.AgentClass != "InfluxDBAgent" {
				return
			}
			for opt, want := range map[string]any{"host": "influxdb", "port": 8086.0, "database": "ocs_feeds", "gzip": true} {
				if got := rc.AgentOptions[opt].Value; got != want {
					t.Errorf("publisher --%s resolved to %v, want %v", opt, got, want)
				}
			}
			spool, ok := rc.AgentOptions["spool-dir"].Value.(string)
			if !ok || spool == "" || filepath.IsAbs(spool) {
				t.Errorf("spool-dir %v: want a relative default, so the spool lands in the WORKDIR volume /var/lib/ocsflux",
					rc.AgentOptions["spool-dir"].Value)
			}
		})
	}
}
