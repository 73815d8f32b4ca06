package docker_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// repoRoot is the module root: the docker build context.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s has no go.mod: %v", root, err)
	}
	return root
}

// dockerDir is this directory, absolute.
func dockerDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "docker")
}

// composeFiles are the compose files shipped in docker/ and below.
func composeFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dockerDir(t), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if !d.IsDir() && strings.HasPrefix(name, "docker-compose") &&
			(strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found compose files %v, want docker-compose.yml and influxdb/docker-compose.yml", files)
	}
	return files
}

// composeProject is the part of `docker-compose config` output the tests read.
type composeProject struct {
	Services map[string]composeService `yaml:"services"`
	Networks map[string]struct {
		Name     string `yaml:"name"`
		External any    `yaml:"external"`
	} `yaml:"networks"`
	Volumes map[string]struct {
		Name string `yaml:"name"`
	} `yaml:"volumes"`
}

type composeService struct {
	Image         string            `yaml:"image"`
	ContainerName string            `yaml:"container_name"`
	Hostname      string            `yaml:"hostname"`
	Command       []string          `yaml:"command"`
	Environment   map[string]string `yaml:"environment"`
	Volumes       []string          `yaml:"volumes"`
	Ports         []string          `yaml:"ports"`
	Profiles      []string          `yaml:"profiles"`
	Build         *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// composeConfig runs `docker-compose -f file config` (with every profile
// active) and returns the resolved project. env replaces OCS_CONFIG_DIR in
// the child's environment: "" leaves it unset.
func composeConfig(t *testing.T, file, ocsConfigDir string) composeProject {
	t.Helper()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatalf("docker-compose is not installed: the compose files cannot be validated. "+
			"Install Debian's docker-compose (as root: apt-get install -y docker-compose): %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", file, "--profile", "router", "--profile", "demo", "config")
	var env []string
	for _, kv := range os.Environ() {
		// The developer's own site settings must not leak into the run.
		if strings.HasPrefix(kv, "OCS_CONFIG_DIR=") || strings.HasPrefix(kv, "OCSFLUX_") ||
			strings.HasPrefix(kv, "COMPOSE_") {
			continue
		}
		env = append(env, kv)
	}
	if ocsConfigDir != "" {
		env = append(env, "OCS_CONFIG_DIR="+ocsConfigDir)
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker-compose -f %s config: %v\n%s", file, err, stderr.String())
	}
	var p composeProject
	if err := yaml.Unmarshal(stdout.Bytes(), &p); err != nil {
		t.Fatalf("docker-compose -f %s config printed unparsable YAML: %v\n%s", file, err, stdout.String())
	}
	if len(p.Services) == 0 {
		t.Fatalf("docker-compose -f %s config: no services\n%s", file, stdout.String())
	}
	return p
}

// bindSource returns the host side of a short-syntax bind mount, or "" for
// a named volume.
func bindSource(volume string) (src, dst string) {
	parts := strings.Split(volume, ":")
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "/") {
		return "", parts[min(1, len(parts)-1)]
	}
	return parts[0], parts[1]
}

// TestComposeFilesValidate runs `docker-compose config` on every compose
// file, checks that every bind-mounted host path exists and that both
// files join the external network ocs-net.
func TestComposeFilesValidate(t *testing.T) {
	configDir := filepath.Join(dockerDir(t), "config")
	for _, file := range composeFiles(t) {
		rel, _ := filepath.Rel(repoRoot(t), file)
		t.Run(rel, func(t *testing.T) {
			p := composeConfig(t, file, configDir)
			def, ok := p.Networks["default"]
			if !ok || def.Name != "ocs-net" || def.External != true {
				t.Errorf("default network = %+v (present %v), want external network named ocs-net", def, ok)
			}
			for name, svc := range p.Services {
				if svc.Image == "" {
					t.Errorf("service %s has no image", name)
				}
				for _, v := range svc.Volumes {
					src, _ := bindSource(v)
					if src == "" {
						continue
					}
					if _, err := os.Stat(src); err != nil {
						t.Errorf("service %s mounts %s, which does not exist: %v", name, src, err)
					}
				}
				if svc.Build != nil && filepath.Base(svc.Build.Dockerfile) == "Dockerfile" {
					// The image sets OCS_CONFIG_DIR=/config and every ocsflux
					// command (agents, router, client) reads the site config
					// there when that variable is set.
					mounted := false
					for _, v := range svc.Volumes {
						_, dst := bindSource(v)
						mounted = mounted || dst == "/config"
					}
					if !mounted {
						t.Errorf("service %s runs the ocsflux image but mounts nothing at /config", name)
					}
				}
				for _, port := range svc.Ports {
					if !strings.HasPrefix(port, "127.0.0.1:") {
						t.Errorf("service %s publishes %s on every interface; publish on 127.0.0.1 only", name, port)
					}
				}
			}
			for name, vol := range p.Volumes {
				if vol.Name == "" {
					t.Errorf("volume %s has no fixed name: its data would depend on the compose project name", name)
				}
			}
		})
	}
}

// TestComposeConfigDirDefault checks that without OCS_CONFIG_DIR the agents
// mount the example site config in docker/config.
func TestComposeConfigDirDefault(t *testing.T) {
	want := filepath.Join(dockerDir(t), "config")
	p := composeConfig(t, filepath.Join(dockerDir(t), "docker-compose.yml"), "")
	for _, name := range []string{"ocs-influxagent", "ocs-fake-data1", "ocs-fake-data2"} {
		svc, ok := p.Services[name]
		if !ok {
			t.Errorf("service %s missing", name)
			continue
		}
		found := false
		for _, v := range svc.Volumes {
			if src, dst := bindSource(v); dst == "/config" {
				found = true
				if src != want {
					t.Errorf("service %s mounts %s at /config, want %s", name, src, want)
				}
			}
		}
		if !found {
			t.Errorf("service %s does not mount the site config at /config: %v", name, svc.Volumes)
		}
	}
}

// siteConfig is the part of an OCS site config file the tests read.
type siteConfig struct {
	Hub struct {
		WampServer  string `yaml:"wamp_server"`
		WampHTTP    string `yaml:"wamp_http"`
		WampRealm   string `yaml:"wamp_realm"`
		AddressRoot string `yaml:"address_root"`
	} `yaml:"hub"`
	Hosts map[string]struct {
		WampServer string `yaml:"wamp_server"`
		WampHTTP   string `yaml:"wamp_http"`
		Instances  []struct {
			Class     string `yaml:"agent-class"`
			ID        string `yaml:"instance-id"`
			Arguments []any  `yaml:"arguments"`
		} `yaml:"agent-instances"`
	} `yaml:"hosts"`
}

func loadSiteConfig(t *testing.T) siteConfig {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dockerDir(t), "config", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sc siteConfig
	if err := yaml.Unmarshal(b, &sc); err != nil {
		t.Fatalf("config/default.yaml: %v", err)
	}
	return sc
}

// flatArgs flattens an instance's (possibly nested) arguments list the way
// OCS does, for the scalars this example uses.
func flatArgs(args []any) []string {
	var out []string
	for _, a := range args {
		switch v := a.(type) {
		case []any:
			out = append(out, flatArgs(v)...)
		case bool:
			out = append(out, map[bool]string{true: "True", false: "False"}[v])
		case int:
			out = append(out, strconv.Itoa(v))
		case string:
			out = append(out, v)
		default:
			out = append(out, fmt.Sprint(v))
		}
	}
	return out
}

// argValue returns the value following flag in args.
func argValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// TestComposeMatchesSiteConfig checks that the compose files and the
// example site config describe the same deployment: every agent service's
// hostname is a host of the site config with that service's instance-id,
// the publisher's --host is the InfluxDB container, and the router service
// answers where the docker host entry says it does.
func TestComposeMatchesSiteConfig(t *testing.T) {
	sc := loadSiteConfig(t)
	agents := composeConfig(t, filepath.Join(dockerDir(t), "docker-compose.yml"), filepath.Join(dockerDir(t), "config"))
	influx := composeConfig(t, filepath.Join(dockerDir(t), "influxdb", "docker-compose.yml"), "")

	if sc.Hub.WampRealm == "" || sc.Hub.AddressRoot == "" {
		t.Errorf("site config hub lacks wamp_realm or address_root: %+v", sc.Hub)
	}
	instanceArgs := map[string][]string{}
	for name, svc := range agents.Services {
		if !strings.HasPrefix(name, "ocs-") {
			continue
		}
		id := strings.TrimPrefix(name, "ocs-")
		if want := "--instance-id=" + id; !slices.Equal(svc.Command, []string{want}) {
			t.Errorf("service %s command = %q, want [%q] (HostManager naming ocs-<instance-id>)", name, svc.Command, want)
		}
		host, ok := sc.Hosts[svc.Hostname]
		if !ok {
			t.Errorf("service %s hostname %q is not a host of config/default.yaml", name, svc.Hostname)
			continue
		}
		found := false
		for _, inst := range host.Instances {
			if inst.ID == id {
				found = true
				instanceArgs[id] = flatArgs(inst.Arguments)
			}
		}
		if !found {
			t.Errorf("service %s: host %s of config/default.yaml has no instance %q", name, svc.Hostname, id)
		}
	}

	pub, ok := instanceArgs["influxagent"]
	if !ok {
		t.Fatalf("no ocs-influxagent service with a matching site-config instance")
	}
	db, ok := influx.Services["influxdb"]
	if !ok {
		t.Fatalf("influxdb/docker-compose.yml has no influxdb service")
	}
	if h := argValue(pub, "--host"); h != db.ContainerName {
		t.Errorf("influxagent --host %q, but the InfluxDB container is named %q", h, db.ContainerName)
	}
	if p := argValue(pub, "--port"); p != "8086" {
		t.Errorf("influxagent --port %q, want 8086", p)
	}
	if d := argValue(pub, "--database"); d != "ocs_feeds" {
		t.Errorf("influxagent --database %q, want ocs_feeds", d)
	}
	if hc := agents.Services["ocs-influxagent"].Healthcheck; hc == nil ||
		!slices.Equal(hc.Test, []string{"CMD", "ocsflux", "client", "influxagent", "health", "record"}) {
		t.Errorf("ocs-influxagent healthcheck = %+v, want the exec form of `ocsflux client influxagent health record`", hc)
	}

	// The router service must be what the docker host's URLs point at.
	router, ok := agents.Services["crossbar"]
	if !ok {
		t.Fatalf("docker-compose.yml has no crossbar service")
	}
	if !slices.Contains(router.Profiles, "router") {
		t.Errorf("crossbar profiles = %v, want it under the profile router", router.Profiles)
	}
	if len(router.Command) < 1 || router.Command[0] != "router" {
		t.Fatalf("crossbar command = %q, want `router ...`", router.Command)
	}
	listen := argValue(router.Command, "--listen")
	_, listenPort, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatalf("crossbar --listen %q: %v", listen, err)
	}
	if r := argValue(router.Command, "--realm"); r != "" && r != sc.Hub.WampRealm {
		t.Errorf("crossbar --realm %q, site config realm %q", r, sc.Hub.WampRealm)
	}
	if a := argValue(router.Command, "--address-root"); a != "" && a != sc.Hub.AddressRoot {
		t.Errorf("crossbar --address-root %q, site config address_root %q", a, sc.Hub.AddressRoot)
	}
	docker := sc.Hosts["ocs-docker"]
	for _, raw := range []string{docker.WampServer, docker.WampHTTP} {
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() != "crossbar" || u.Port() != listenPort {
			t.Errorf("ocs-docker URL %q does not point at the crossbar service port %s (%v)", raw, listenPort, err)
		}
	}
	for _, want := range []string{"/ws", "/call"} {
		if !strings.HasSuffix(docker.WampServer, want) && !strings.HasSuffix(docker.WampHTTP, want) {
			t.Errorf("ocs-docker URLs %q, %q lack the router path %s", docker.WampServer, docker.WampHTTP, want)
		}
	}
	published := false
	for _, port := range router.Ports {
		published = published || strings.HasSuffix(port, ":"+listenPort+"/tcp") || strings.HasSuffix(port, ":"+listenPort)
	}
	if !published {
		t.Errorf("crossbar ports %v do not publish %s for the hub URLs %s, %s", router.Ports, listenPort,
			sc.Hub.WampServer, sc.Hub.WampHTTP)
	}
}
