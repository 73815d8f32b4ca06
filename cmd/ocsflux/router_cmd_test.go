package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/gorilla/websocket"

	"github.com/ocsflux/ocsflux/agents/client/clienttest"
	"github.com/ocsflux/ocsflux/agents/router"
)

// routerClientCLI holds the router and client commands as the root command
// tree does, so their tests do not depend on the rest of the tree.
type routerClientCLI struct {
	Router routerCmd `cmd:""`
	Client clientCmd `cmd:""`
}

// syncBuffer is a bytes.Buffer safe for the router's logging goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type cmdEnv struct {
	vars     map[string]string
	hostname string
}

// runCmd parses and runs args as Main does for these commands: a parse or
// validation error is exit status 2, a Run error status 1.
func runCmd(ctx context.Context, ce cmdEnv, stdout, stderr *syncBuffer, args ...string) int {
	env := &Env{
		Args: args,
		LookupEnv: func(k string) (string, bool) {
			v, ok := ce.vars[k]
			return v, ok
		},
		Hostname: ce.hostname,
		Stdout:   stdout,
		Stderr:   stderr,
	}
	exitCode := -1
	k, err := kong.New(&routerClientCLI{},
		kong.Name("ocsflux"),
		kong.Writers(stdout, stderr),
		kong.Exit(func(c int) {
			if exitCode < 0 {
				exitCode = c
			}
		}),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.Bind(env),
	)
	if err != nil {
		panic(err)
	}
	kctx, err := k.Parse(args)
	if exitCode >= 0 {
		return exitCode
	}
	if err != nil {
		stderr.Write([]byte("ocsflux: error: " + err.Error() + "\n"))
		return exitUsage
	}
	if err := kctx.Run(); err != nil {
		stderr.Write([]byte("ocsflux: " + err.Error() + "\n"))
		return exitError
	}
	return exitOK
}

type cmdResult struct {
	code           int
	stdout, stderr string
}

func runArgs(t *testing.T, ce cmdEnv, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr syncBuffer
	code := runCmd(ctx, ce, &stdout, &stderr, args...)
	return cmdResult{code, stdout.String(), stderr.String()}
}

func writeSCF(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRouterCmdConfig(t *testing.T) {
	dir := t.TempDir()
	writeSCF(t, dir, "default.yaml", `hub:
  wamp_server: ws://localhost:18001/wamp
  wamp_http: http://localhost:18001/rpc
  wamp_realm: site_realm
  address_root: site
hosts:
  router-host:
    wamp_realm: host_realm
    agent-instances: []
`)
	writeSCF(t, dir, "split.yaml", `hub:
  wamp_server: ws://localhost:18001/ws
  wamp_http: http://localhost:18002/call
hosts: {}
`)
	withDir := cmdEnv{vars: map[string]string{"OCS_CONFIG_DIR": dir}}
	cases := []struct {
		name string
		ce   cmdEnv
		cmd  routerCmd
		want router.Config
	}{
		{"defaults", cmdEnv{}, routerCmd{}, router.Config{}},
		{"flags", cmdEnv{}, routerCmd{Listen: "0.0.0.0:9000", Realm: "r", AddressRoot: "a", WSPath: "/w", CallPath: "/c", MaxMessageSize: "64MiB", OutQueue: 10},
			router.Config{Listen: "0.0.0.0:9000", Realm: "r", AddressRoot: "a", WSPath: "/w", CallPath: "/c", MaxMessageSize: 64 << 20, OutQueueSize: 10}},
		{"site config", withDir, routerCmd{},
			router.Config{Listen: "127.0.0.1:18001", WSPath: "/wamp", CallPath: "/rpc", Realm: "site_realm", AddressRoot: "site"}},
		{"host entry", cmdEnv{vars: withDir.vars, hostname: "router-host"}, routerCmd{},
			router.Config{Listen: "127.0.0.1:18001", WSPath: "/wamp", CallPath: "/rpc", Realm: "host_realm", AddressRoot: "site"}},
		{"flags over site config", withDir, routerCmd{Listen: "0.0.0.0:18001", Realm: "r"},
			router.Config{Listen: "0.0.0.0:18001", WSPath: "/wamp", CallPath: "/rpc", Realm: "r", AddressRoot: "site"}},
		{"site none", withDir, routerCmd{Site: "none"}, router.Config{}},
		{"web pages and bodies", cmdEnv{}, routerCmd{AllowOrigin: []string{"https://ocs-web.example", "http://localhost:3000"}, CallBodyTimeout: 5 * time.Second, MaxCallBodies: 4},
			router.Config{AllowOrigins: []string{"https://ocs-web.example", "http://localhost:3000"}, CallBodyTimeout: 5 * time.Second, MaxCallBodies: 4}},
		{"site file", cmdEnv{}, routerCmd{SiteFile: filepath.Join(dir, "default.yaml"), SiteHost: "router-host"},
			router.Config{Listen: "127.0.0.1:18001", WSPath: "/wamp", CallPath: "/rpc", Realm: "host_realm", AddressRoot: "site"}},
	}
	for _, c := range cases {
		env := &Env{LookupEnv: func(k string) (string, bool) { v, ok := c.ce.vars[k]; return v, ok }, Hostname: c.ce.hostname}
		got, err := c.cmd.config(env)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: config %+v, want %+v", c.name, got, c.want)
		}
	}

	bad := []struct {
		name string
		ce   cmdEnv
		cmd  routerCmd
		want string
	}{
		{"ports differ", withDir, routerCmd{Site: "split"}, "one port"},
		{"no such file", withDir, routerCmd{Site: "nope"}, "does not exist"},
		{"site without dir", cmdEnv{}, routerCmd{Site: "default"}, "OCS_CONFIG_DIR"},
		{"unknown host", withDir, routerCmd{SiteHost: "elsewhere"}, "no host entry"},
		{"bad listen", cmdEnv{}, routerCmd{Listen: "nowhere"}, "listen"},
	}
	for _, c := range bad {
		env := &Env{LookupEnv: func(k string) (string, bool) { v, ok := c.ce.vars[k]; return v, ok }}
		if _, err := c.cmd.config(env); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error about %q", c.name, err, c.want)
		}
	}
}

func TestRouterCmdUsage(t *testing.T) {
	for _, args := range [][]string{
		{"router", "--max-message-size", "lots"},
		{"router", "--max-message-size", "100"},
		{"router", "--out-queue", "-1"},
		{"router", "--allow-origin", "*"},
		{"router", "--allow-origin", "null"},
		{"router", "--allow-origin", "ocs-web.example"},
		{"router", "--allow-origin", "http://ocs-web.example/page"},
		{"router", "--call-body-timeout", "soon"},
		{"router", "--log-level", "chatty"},
		{"router", "--bogus"},
	} {
		if r := runArgs(t, cmdEnv{}, args...); r.code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %s)", args, r.code, exitUsage, r.stderr)
		}
	}
	if r := runArgs(t, cmdEnv{}, "router", "--listen", "nowhere"); r.code != exitError || !strings.Contains(r.stderr, "listen") {
		t.Errorf("bad --listen: exit %d, stderr %s", r.code, r.stderr)
	}
}

// TestRouterCmdRuns runs "ocsflux router" until cancelled, with a fake
// agent and "ocsflux client" talking through it, and web pages allowed
// (twice --allow-origin) or refused.
func TestRouterCmdRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runCmd(ctx, cmdEnv{}, &stdout, &stderr, "router", "--listen", "127.0.0.1:0", "--realm", "test_realm", "--log-level", "debug",
			"--allow-origin", "http://ocs-web.example", "--allow-origin", "https://second.example:8443")
	}()
	urlRE := regexp.MustCompile(`router listening.*websocket=(ws://\S+) call=(http://\S+)`)
	var wsURL, callURL string
	deadline := time.Now().Add(10 * time.Second)
	for wsURL == "" {
		if m := urlRE.FindStringSubmatch(stderr.String()); m != nil {
			wsURL, callURL = m[1], m[2]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("router exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("router did not log its URLs within 10 s: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	clienttest.Start(t, wsURL, "observatory", "influxagent")
	r := runArgs(t, cmdEnv{}, "client", "--site-http", callURL, "influxagent", "status", "record")
	if r.code != exitOK || r.stdout != "OCSReply: OK : No session active.\n  (no session -- op has never run)\n" {
		t.Errorf("client through the router command: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Web pages: only the origins given with --allow-origin.
	body := `{"procedure": "observatory.influxagent.ops", "args": ["status", "record", {}], "kwargs": {}}`
	for origin, want := range map[string]int{
		"http://evil.example":         http.StatusForbidden,
		"http://ocs-web.example":      http.StatusOK,
		"https://second.example:8443": http.StatusOK,
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, callURL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST from %s: %v", origin, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST /call from %s: status %d, want %d", origin, resp.StatusCode, want)
		}
		if v := resp.Header.Get("Access-Control-Allow-Credentials"); v != "" {
			t.Errorf("POST /call from %s: Access-Control-Allow-Credentials %q", origin, v)
		}
	}
	d := websocket.Dialer{Subprotocols: []string{router.ProtocolJSON}, HandshakeTimeout: 10 * time.Second}
	if conn, resp, err := d.DialContext(ctx, wsURL, http.Header{"Origin": {"http://evil.example"}}); err == nil {
		conn.Close()
		t.Error("WebSocket from http://evil.example connected")
	} else if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("WebSocket from http://evil.example: %v, want HTTP 403", err)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("router exit %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("router did not stop within 20 s")
	}
	if !strings.Contains(stderr.String(), "router stopped") {
		t.Errorf("no shutdown log: %s", stderr.String())
	}
}
