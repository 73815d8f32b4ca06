package agents

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultSerialization     = "msgpack"
	DefaultStopTimeout       = 5 * time.Second
	DefaultReconnectMinDelay = 500 * time.Millisecond
	DefaultReconnectMaxDelay = 3 * time.Second
	DefaultResponseTimeout   = 10 * time.Second
	DefaultKeepAlive         = 10 * time.Second
)

// Config describes one agent instance. Zero values take the documented
// defaults; [Config.Validate] reports what is missing or wrong.
type Config struct {
	// AddressRoot is the site's address_root (usually "observatory").
	// Required.
	AddressRoot string
	// InstanceID is the agent's instance-id. Required; it must not contain
	// a "." (that would add a URI component and break every wildcard
	// subscription of the other agents).
	InstanceID string
	// AgentClass appears in get_api, get_agent_class and every feed_info.
	// Empty means null, as for a Python agent without a class name.
	AgentClass string

	// URL is the site's wamp_server, e.g. "ws://127.0.0.1:8001/ws"
	// (ws, wss; http and https are taken as ws and wss). Required.
	URL string
	// Realm is the site's wamp_realm, e.g. "test_realm". Required.
	Realm string
	// Serialization is the WAMP serializer offered to the router:
	// "msgpack" (default), "cbor" or "json". JSON cannot keep 2.0 a float
	// through every router, so keep a binary one unless debugging.
	Serialization string
	// TLSConfig is used for wss URLs; nil means Go's defaults.
	TLSConfig *tls.Config

	// CrossbarTimeout is OCS's crossbar_timeout: after losing the router,
	// give up when no rejoin happened within this time, stopping the ops as
	// for a cancelled context, and let Run return nil. 0 means wait
	// forever. It does not apply before the first join: an agent that
	// never reached the router retries forever, as Python does.
	CrossbarTimeout time.Duration
	// StopTimeout bounds the shutdown: after the stop/abort requests Run
	// waits at most this long for the ops to finish before it cancels
	// their contexts and leaves the realm. Default 5 s (Python waits a fixed
	// 3 s; docker's SIGTERM grace is 10 s).
	StopTimeout time.Duration
	// ReconnectMinDelay and ReconnectMaxDelay bound the reconnect backoff:
	// the delay starts at the minimum, grows 1.5-fold per failed attempt up
	// to the maximum, and each delay is jittered by ±25%. Defaults 0.5 s and
	// 3 s, so an agent is back within about 4 s of the router's return
	// (Python: 1 s growing to 60 s).
	ReconnectMinDelay time.Duration
	ReconnectMaxDelay time.Duration
	// ResponseTimeout bounds the WebSocket handshake, the join and every
	// register/subscribe request. Default 10 s.
	ResponseTimeout time.Duration
	// KeepAlive is the interval of WebSocket pings to the router; a router
	// that misses two pongs is considered lost. Default 10 s; negative
	// disables pings.
	KeepAlive time.Duration

	// AccessPolicy is OCS's --access-policy. Only "" and "none" are
	// implemented; anything else is rejected by Validate.
	AccessPolicy string

	// Hostname is reported as get_api.instance_hostname; default
	// os.Hostname().
	Hostname string
	// PID is reported as get_api.instance_pid; default os.Getpid().
	PID int

	// Logger receives the agent's log; default slog.Default(). The agent
	// adds "agent", <address>.
	Logger *slog.Logger
}

// Address returns <AddressRoot>.<InstanceID>, the agent's address.
func (c Config) Address() string { return c.AddressRoot + "." + c.InstanceID }

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Serialization == "" {
		c.Serialization = DefaultSerialization
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.ReconnectMinDelay == 0 {
		c.ReconnectMinDelay = DefaultReconnectMinDelay
	}
	if c.ReconnectMaxDelay == 0 {
		c.ReconnectMaxDelay = DefaultReconnectMaxDelay
	}
	if c.ReconnectMaxDelay < c.ReconnectMinDelay {
		c.ReconnectMaxDelay = c.ReconnectMinDelay
	}
	if c.ResponseTimeout == 0 {
		c.ResponseTimeout = DefaultResponseTimeout
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.Hostname == "" {
		if h, err := os.Hostname(); err == nil {
			c.Hostname = h
		}
	}
	if c.PID == 0 {
		c.PID = os.Getpid()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first problem of c. Zero fields that have defaults
// are accepted.
func (c Config) Validate() error {
	if c.InstanceID == "" {
		return errors.New("agent config: instance-id is required")
	}
	if strings.Contains(c.InstanceID, ".") {
		return fmt.Errorf("agent config: instance-id %q must not contain \".\"", c.InstanceID)
	}
	if strings.ContainsAny(c.InstanceID, " \t\r\n#") {
		return fmt.Errorf("agent config: instance-id %q must not contain white space or \"#\"", c.InstanceID)
	}
	if c.AddressRoot == "" {
		return errors.New("agent config: address_root is required")
	}
	for _, part := range strings.Split(c.AddressRoot, ".") {
		if part == "" || strings.ContainsAny(part, " \t\r\n#") {
			return fmt.Errorf("agent config: address_root %q is not a valid URI prefix", c.AddressRoot)
		}
	}
	if c.Realm == "" {
		return errors.New("agent config: realm is required")
	}
	if c.URL == "" {
		return errors.New("agent config: wamp_server URL is required")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("agent config: wamp_server URL %q: %w", c.URL, err)
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return fmt.Errorf("agent config: wamp_server URL %q: scheme must be ws or wss", c.URL)
	}
	switch c.Serialization {
	case "", "msgpack", "cbor", "json":
	default:
		return fmt.Errorf("agent config: serialization %q: want msgpack, cbor or json", c.Serialization)
	}
	switch strings.ToLower(c.AccessPolicy) {
	case "", "none":
	default:
		return fmt.Errorf("agent config: access policy %q is not supported: ocsflux implements only policy \"none\"", c.AccessPolicy)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"crossbar_timeout", c.CrossbarTimeout},
		{"stop timeout", c.StopTimeout},
		{"reconnect min delay", c.ReconnectMinDelay},
		{"reconnect max delay", c.ReconnectMaxDelay},
		{"response timeout", c.ResponseTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("agent config: %s must not be negative, got %v", d.name, d.v)
		}
	}
	return nil
}
