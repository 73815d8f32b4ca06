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

	// DefaultReadHeaderTimeout bounds how long a client may take to send
	// a request's line and headers (every path: /ws, /call, /info).
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultCallBodyTimeout bounds how long a /call client may take to
	// send its body once the router starts reading it. OCS's bodies are a
	// few hundred bytes; a full DefaultMaxMessageSize body needs about
	// 4.5 Mbit/s to arrive in time. The call itself has no time limit.
	DefaultCallBodyTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a kept-alive HTTP connection may wait
	// for its next request.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxCallBodies is how many /call bodies may be read at once;
	// the next request is answered 503 at once. A body is read in well
	// under a millisecond on a site network, so only stalled or huge
	// bodies hold a slot; the memory held by bodies being read is at most
	// about MaxCallBodies × MaxMessageSize (128 MiB with the defaults).
	DefaultMaxCallBodies = 8

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

	// AllowOrigins lists the web-page origins (scheme://host[:port], as a
	// browser sends them in the Origin header, e.g. https://ocs-web.example)
	// that may use the WebSocket endpoint and the HTTP bridge. A request
	// with an Origin header that is not listed is refused with HTTP 403
	// before anything else is done; a request without one (autobahn,
	// OCS's HTTP client, curl, ocsflux) is not affected. Hosts compare
	// case-insensitively and a scheme's default port may be written or
	// left out; there are no wildcards ("*" and "null" are refused by
	// Validate). Default: none, so no web page may use the router.
	AllowOrigins []string
	// ReadHeaderTimeout bounds the time to send a request's headers.
	// Default DefaultReadHeaderTimeout (10 s); negative: no limit.
	ReadHeaderTimeout time.Duration
	// CallBodyTimeout bounds the time to send a /call body; a body that
	// does not arrive in time is answered 408. Default
	// DefaultCallBodyTimeout (30 s); negative: no limit.
	CallBodyTimeout time.Duration
	// IdleTimeout bounds how long a kept-alive HTTP connection waits for
	// its next request. Default DefaultIdleTimeout (2 min); negative: no
	// limit.
	IdleTimeout time.Duration
	// MaxCallBodies is how many /call request bodies may be read at the
	// same time; beyond it a request is answered 503 without reading its
	// body. Default DefaultMaxCallBodies (8); negative: no limit.
	MaxCallBodies int

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
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.CallBodyTimeout == 0 {
		c.CallBodyTimeout = DefaultCallBodyTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxCallBodies == 0 {
		c.MaxCallBodies = DefaultMaxCallBodies
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
	for _, o := range c.AllowOrigins {
		if _, err := NormalizeOrigin(o); err != nil {
			return fmt.Errorf("router allowed origin %q: %w", o, err)
		}
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
