package router_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/agents/router"
)

func TestConfigValidate(t *testing.T) {
	good := []router.Config{
		{},
		{Listen: "0.0.0.0:8001"},
		{Listen: ":0", WSPath: "/", CallPath: "/call"},
		{Listen: "[::1]:18001", Realm: "my_realm", AddressRoot: "so.observatory"},
		{MaxMessageSize: router.MinMaxMessageSize, OutQueueSize: 1, KeepAlive: -1},
		{AllowOrigins: []string{"https://ocs-web.example", "http://localhost:3000/", "http://[::1]:8080"}},
		{ReadHeaderTimeout: -1, CallBodyTimeout: -1, IdleTimeout: -1, MaxCallBodies: -1},
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
	bad := []struct {
		cfg  router.Config
		want string
	}{
		{router.Config{Listen: "8001"}, "listen"},
		{router.Config{Listen: "localhost:http2"}, "port"},
		{router.Config{Listen: "localhost:70000"}, "port"},
		{router.Config{WSPath: "ws"}, "websocket path"},
		{router.Config{CallPath: "/call?x=1"}, "call path"},
		{router.Config{CallPath: "/ws"}, "both"},
		{router.Config{WSPath: "/info"}, "readiness"},
		{router.Config{Realm: "test realm"}, "realm"},
		{router.Config{AddressRoot: "observatory."}, "address root"},
		{router.Config{AddressRoot: ".observatory"}, "address root"},
		{router.Config{AddressRoot: "a..b"}, "address root"},
		{router.Config{MaxMessageSize: 100}, "max message size"},
		{router.Config{MaxMessageSize: -1}, "max message size"},
		{router.Config{OutQueueSize: -1}, "out queue"},
		{router.Config{AllowOrigins: []string{"*"}}, "every origin"},
		{router.Config{AllowOrigins: []string{"null"}}, "sandboxed"},
		{router.Config{AllowOrigins: []string{"ocs-web.example"}}, "scheme://host"},
		{router.Config{AllowOrigins: []string{"http://ocs-web.example/monitor"}}, "no path"},
		{router.Config{AllowOrigins: []string{"http://ocs-web.example?x=1"}}, "no path"},
		{router.Config{AllowOrigins: []string{"http://user@ocs-web.example"}}, "no user"},
		{router.Config{AllowOrigins: []string{"http://ocs-web.example:http"}}, "allowed origin"},
	}
	for _, c := range bad {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want an error about %q", c.cfg, err, c.want)
		}
		if _, err := router.New(c.cfg); err == nil {
			t.Errorf("New(%+v) succeeded", c.cfg)
		}
	}
}

func TestConfigFromHub(t *testing.T) {
	cases := []struct {
		server, http, realm, root string
		want                      router.Config
	}{
		{"ws://localhost:8001/ws", "http://localhost:8001/call", "test_realm", "observatory",
			router.Config{Listen: "127.0.0.1:8001", WSPath: "/ws", CallPath: "/call", Realm: "test_realm", AddressRoot: "observatory"}},
		// docker: clients reach the router as "crossbar"; it still binds loopback unless told otherwise.
		{"ws://crossbar:8001/ws", "http://crossbar:8001/call", "", "",
			router.Config{Listen: "127.0.0.1:8001", WSPath: "/ws", CallPath: "/call"}},
		{"ws://127.0.0.1:18001/ws", "", "my_realm", "so",
			router.Config{Listen: "127.0.0.1:18001", WSPath: "/ws", Realm: "my_realm", AddressRoot: "so"}},
		{"ws://example.org", "http://example.org/rpc", "", "",
			router.Config{Listen: "127.0.0.1:80", WSPath: "/", CallPath: "/rpc"}},
		{"http://localhost:8001/wamp", "http://127.0.0.1:8001/call", "", "",
			router.Config{Listen: "127.0.0.1:8001", WSPath: "/wamp", CallPath: "/call"}},
	}
	for _, c := range cases {
		got, err := router.ConfigFromHub(c.server, c.http, c.realm, c.root)
		if err != nil {
			t.Errorf("ConfigFromHub(%q, %q): %v", c.server, c.http, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ConfigFromHub(%q, %q) = %+v, want %+v", c.server, c.http, got, c.want)
		}
	}
	bad := []struct{ server, http, want string }{
		{"", "", "empty"},
		{"wss://localhost:8001/ws", "", "scheme"},
		{"ws://localhost:8001/ws", "https://localhost:8001/call", "scheme"},
		{"ws://localhost:8001/ws", "http://localhost:8002/call", "one port"},
		{"ws:///ws", "", "no host"},
		{"ws://localhost:8001/ws", "http://localhost:8001/ws", "both"},
		{"ws://localhost:99999/ws", "", "port"},
		{"://bad", "", "missing protocol scheme"},
	}
	for _, c := range bad {
		_, err := router.ConfigFromHub(c.server, c.http, "", "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ConfigFromHub(%q, %q) = %v, want an error about %q", c.server, c.http, err, c.want)
		}
	}
}

func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://ocs-web.example":      "https://ocs-web.example",
		"HTTPS://OCS-Web.Example/":     "https://ocs-web.example",
		"http://ocs-web.example:80":    "http://ocs-web.example",
		"https://ocs-web.example:443":  "https://ocs-web.example",
		"http://ocs-web.example:443":   "http://ocs-web.example:443",
		"https://ocs-web.example:8443": "https://ocs-web.example:8443",
		"http://[::1]:80":              "http://[::1]",
		"http://[::1]:3000":            "http://[::1]:3000",
		"http://127.0.0.1:8001":        "http://127.0.0.1:8001",
	} {
		got, err := router.NormalizeOrigin(in)
		if err != nil || got != want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
