package router

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults, as in OCS's crossbar configuration.
const (
	DefaultListen         = "127.0.0.1:8001"
	DefaultWSPath         = "/ws"
	DefaultCallPath       = "/call"
	DefaultRealm          = "test_realm"
	DefaultAddressRoot    = "observatory"
	DefaultMaxMessageSize = 16 << 20
	DefaultOutQueueSize   = 4096
	DefaultKeepAlive      = 10 * time.Second

	// InfoPath is crossbar's node-info page, which OCS's test fixtures poll
	// until the router answers.
	InfoPath = "/info"

	// MinMaxMessageSize is the smallest MaxMessageSize Validate accepts; a
	// WAMP HELLO alone is a few hundred bytes.
	MinMaxMessageSize = 1 << 10
)

// Config configures a Router. The zero value of every field means its
// default.
type Config struct {
	// Listen is the TCP address to serve on. Default DefaultListen
	// (127.0.0.1:8001, loopback only); use ":8001" or "0.0.0.0:8001" to
	// expose the router, e.g. inside a container. Port 0 picks a free port
	// (see Router.Addr).
	Listen string
	// WSPath is the URL path of the WAMP WebSocket endpoint. Default "/ws".
	WSPath string
	// CallPath is the URL path of the HTTP caller bridge. Default "/call".
	CallPath string
	// Realm is the one realm the router serves. Default "test_realm".
	Realm string
	// AddressRoot is the first URI component every OCS address starts
	// with. WebSocket sessions may only use URIs under "<AddressRoot>.".
	// Default "observatory".
	AddressRoot string
	// MaxMessageSize is the largest WebSocket message (and /call request
	// body) accepted, in bytes. A larger WebSocket message closes that
	// connection (close code 1009); a larger /call body is refused with
	// HTTP 413. Default 16 MiB; at least MinMaxMessageSize.
	MaxMessageSize int64
	// OutQueueSize is how many outbound messages may wait for each
	// session before nexus drops events to it. Default 4096.
	OutQueueSize int
	// KeepAlive is the interval of WebSocket pings to each client; a client
	// that misses two pongs is disconnected. Default 10 s (crossbar's
	// auto_ping_interval in the OCS config); negative disables pings.
	KeepAlive time.Duration
	// Logger receives the router's and nexus's log. Default: discard.
	Logger *slog.Logger
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.WSPath == "" {
		c.WSPath = DefaultWSPath
	}
	if c.CallPath == "" {
		c.CallPath = DefaultCallPath
	}
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if c.AddressRoot == "" {
		c.AddressRoot = DefaultAddressRoot
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.OutQueueSize == 0 {
		c.OutQueueSize = DefaultOutQueueSize
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first problem with c, zero fields standing for
// their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("router listen address %q: %w", c.Listen, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("router listen address %q: port must be a number 0-65535", c.Listen)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("router listen address %q: bad host", c.Listen)
	}
	for _, p := range []struct{ name, path string }{{"websocket path", c.WSPath}, {"call path", c.CallPath}} {
		if !strings.HasPrefix(p.path, "/") || strings.ContainsAny(p.path, " ?#") {
			return fmt.Errorf("router %s %q: must be a URL path starting with /", p.name, p.path)
		}
		if p.path == InfoPath {
			return fmt.Errorf("router %s %q: %s is the readiness page", p.name, p.path, InfoPath)
		}
	}
	if c.WSPath == c.CallPath {
		return fmt.Errorf("router websocket path and call path are both %q", c.WSPath)
	}
	if strings.ContainsAny(c.Realm, " \t\n") {
		return fmt.Errorf("router realm %q: must not contain white space", c.Realm)
	}
	if err := checkAddressRoot(c.AddressRoot); err != nil {
		return err
	}
	if c.MaxMessageSize < MinMaxMessageSize {
		return fmt.Errorf("router max message size %d: must be at least %d bytes", c.MaxMessageSize, MinMaxMessageSize)
	}
	if c.OutQueueSize < 0 {
		return fmt.Errorf("router out queue size %d: must not be negative", c.OutQueueSize)
	}
	return nil
}

func checkAddressRoot(root string) error {
	if strings.ContainsAny(root, " \t\n#") {
		return fmt.Errorf("router address root %q: must not contain white space or '#'", root)
	}
	for _, part := range strings.Split(root, ".") {
		if part == "" {
			return fmt.Errorf("router address root %q: empty URI component", root)
		}
	}
	return nil
}

// ConfigFromHub derives a Config from an OCS site config's hub block:
// wampServer is hub.wamp_server (e.g. ws://localhost:8001/ws), wampHTTP is
// hub.wamp_http (e.g. http://localhost:8001/call, may be empty), realm is
// hub.wamp_realm and addressRoot hub.address_root (empty means default).
//
// The router serves both URLs on one port, so their ports must agree. The
// URLs' host names say how clients reach the router, not where it should
// bind: Listen is 127.0.0.1:<port>; set Listen yourself to expose it. Only
// plain ws:// and http:// URLs can be served (terminate TLS in a proxy).
func ConfigFromHub(wampServer, wampHTTP, realm, addressRoot string) (Config, error) {
	if wampServer == "" {
		return Config{}, errors.New("hub wamp_server is empty")
	}
	wsPort, wsPath, err := hubURL(wampServer, "ws", "http")
	if err != nil {
		return Config{}, fmt.Errorf("hub wamp_server %q: %w", wampServer, err)
	}
	cfg := Config{
		Listen:      net.JoinHostPort("127.0.0.1", wsPort),
		WSPath:      wsPath,
		Realm:       realm,
		AddressRoot: addressRoot,
	}
	if wampHTTP != "" {
		httpPort, callPath, err := hubURL(wampHTTP, "http")
		if err != nil {
			return Config{}, fmt.Errorf("hub wamp_http %q: %w", wampHTTP, err)
		}
		if httpPort != wsPort {
			return Config{}, fmt.Errorf("hub wamp_http %q is on port %s but wamp_server %q on port %s; the router serves both on one port",
				wampHTTP, httpPort, wampServer, wsPort)
		}
		cfg.CallPath = callPath
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// hubURL returns the port (default 80) and path (default "/") of a URL whose
// scheme is one of schemes.
func hubURL(raw string, schemes ...string) (port, path string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", err
	}
	ok := false
	for _, s := range schemes {
		ok = ok || u.Scheme == s
	}
	if !ok {
		return "", "", fmt.Errorf("scheme %q not served (want %s)", u.Scheme, strings.Join(schemes, " or "))
	}
	if u.Host == "" {
		return "", "", errors.New("no host")
	}
	port = u.Port()
	if port == "" {
		port = "80"
	}
	path = u.Path
	if path == "" {
		path = "/"
	}
	return port, path, nil
}
