package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/ocsflux/ocsflux/agents/router"
	"github.com/ocsflux/ocsflux/site"
)

// routerCmd runs the embedded WAMP router: ocsflux's stand-in for the
// crossbar of an OCS site.
type routerCmd struct {
	Listen          string        `name:"listen" placeholder:"HOST:PORT" help:"Address to serve on. Default: 127.0.0.1 (loopback only) and the port of the site config's wamp_server, else 127.0.0.1:8001. Use 0.0.0.0:8001 to expose the router."`
	Realm           string        `name:"realm" placeholder:"REALM" help:"The realm to serve. Default: the site config's wamp_realm, else test_realm."`
	AddressRoot     string        `name:"address-root" placeholder:"ROOT" help:"WebSocket clients may only use URIs that start with ROOT. (crossbar's OCS role rule). Default: the site config's address_root, else observatory."`
	WSPath          string        `name:"ws-path" placeholder:"PATH" help:"URL path of the WAMP WebSocket. Default: the path of the site config's wamp_server, else /ws."`
	CallPath        string        `name:"call-path" placeholder:"PATH" help:"URL path of the HTTP caller bridge (OCSClient's wamp_http). Default: the path of the site config's wamp_http, else /call."`
	MaxMessageSize  string        `name:"max-message-size" placeholder:"SIZE" help:"Largest WebSocket message (and /call body) accepted, e.g. 16MiB, 64MiB, 1GiB. Default: 16MiB."`
	OutQueue        int           `name:"out-queue" placeholder:"N" help:"Messages that may wait for a slow session before events to it are dropped (and counted). Default: 4096."`
	AllowOrigin     []string      `name:"allow-origin" placeholder:"ORIGIN" help:"Let web pages from ORIGIN (scheme://host[:port], e.g. https://ocs-web.example; repeatable) use /ws and /call. Requests with any other Origin header are refused (403); clients that send none (OCS's Python clients, ocsflux, curl) are not affected. Default: none."`
	CallBodyTimeout time.Duration `name:"call-body-timeout" placeholder:"DURATION" help:"Time a /call client has to send its request body (408 after). Default: 30s; negative: no limit."`
	MaxCallBodies   int           `name:"max-call-bodies" placeholder:"N" help:"/call request bodies read at the same time; more are answered 503. Default: 8; negative: no limit."`
	Site            string        `name:"site" placeholder:"NAME" help:"Take the defaults from the site config $OCS_CONFIG_DIR/NAME.yaml (default: default.yaml when OCS_CONFIG_DIR is set). --site none: no site config."`
	SiteFile        string        `name:"site-file" placeholder:"PATH" help:"Take the defaults from this site config file."`
	SiteHost        string        `name:"site-host" placeholder:"HOST" help:"Apply this host entry's wamp_server/wamp_http/wamp_realm (default: this machine's host name, then localhost, if present)."`
	LogLevel        string        `name:"log-level" default:"info" enum:"debug,info,warn,error" help:"Log level: debug, info, warn or error."`
}

// Help is the command's detailed help.
func (c *routerCmd) Help() string {
	return "Serves, on one port, the WAMP WebSocket (wamp.2.json, wamp.2.msgpack and wamp.2.cbor, " +
		"chosen in the client's order of preference as crossbar does), the HTTP caller bridge that " +
		"OCSClient uses, and crossbar's readiness page /info, with OCS's crossbar rules: one realm, " +
		"anonymous access, URIs only under the address root. Web pages (requests with an Origin " +
		"header) are refused unless their origin is given with --allow-origin. Settings come from " +
		"the flags, then from the site config's hub (wamp_server, wamp_http, wamp_realm, " +
		"address_root), then the defaults. " +
		"SIGINT or SIGTERM shuts it down cleanly (exit status 0)."
}

// Validate checks what kong cannot (a usage error, exit status 2).
func (c *routerCmd) Validate() error {
	if c.MaxMessageSize != "" {
		n, err := site.ParseBytes(c.MaxMessageSize)
		if err != nil {
			return fmt.Errorf("--max-message-size: %w", err)
		}
		if n < router.MinMaxMessageSize {
			return fmt.Errorf("--max-message-size %s: at least %d bytes", c.MaxMessageSize, router.MinMaxMessageSize)
		}
	}
	if c.OutQueue < 0 {
		return fmt.Errorf("--out-queue %d: must not be negative", c.OutQueue)
	}
	for _, o := range c.AllowOrigin {
		if _, err := router.NormalizeOrigin(o); err != nil {
			return fmt.Errorf("--allow-origin %q: %w", o, err)
		}
	}
	return nil
}

// config resolves the router's configuration: flags, then the site
// config's hub (with the host entry's overrides), then the defaults.
func (c *routerCmd) config(env *Env) (router.Config, error) {
	var cfg router.Config
	hub, from, err := siteHub(env, c.Site, c.SiteFile, c.SiteHost)
	if err != nil {
		return cfg, err
	}
	if from != "" && hub.WampServer != "" {
		cfg, err = router.ConfigFromHub(hub.WampServer, hub.WampHTTP, hub.WampRealm, hub.AddressRoot)
		if err != nil {
			return cfg, fmt.Errorf("site config %s: %w", from, err)
		}
	} else if from != "" {
		cfg.Realm, cfg.AddressRoot = hub.WampRealm, hub.AddressRoot
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Listen, c.Listen)
	set(&cfg.Realm, c.Realm)
	set(&cfg.AddressRoot, c.AddressRoot)
	set(&cfg.WSPath, c.WSPath)
	set(&cfg.CallPath, c.CallPath)
	if c.MaxMessageSize != "" {
		n, err := site.ParseBytes(c.MaxMessageSize)
		if err != nil {
			return cfg, fmt.Errorf("--max-message-size: %w", err)
		}
		cfg.MaxMessageSize = n
	}
	if c.OutQueue != 0 {
		cfg.OutQueueSize = c.OutQueue
	}
	cfg.AllowOrigins = c.AllowOrigin
	cfg.CallBodyTimeout = c.CallBodyTimeout
	cfg.MaxCallBodies = c.MaxCallBodies
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Run serves until ctx is cancelled (SIGINT/SIGTERM), then shuts down
// cleanly and returns nil.
func (c *routerCmd) Run(ctx context.Context, env *Env) error {
	cfg, err := c.config(env)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	r, err := router.New(cfg)
	if err != nil {
		return err
	}
	return r.Run(ctx)
}

// siteHub finds the site config as OCS's clients do and returns its hub
// block with the host entry's wamp_server, wamp_http and wamp_realm in
// place of the hub's. from is the file read, "" when no site config is
// used: --site none, or neither --site, --site-file nor $OCS_CONFIG_DIR.
// A missing host entry is not an error unless --site-host names it.
func siteHub(env *Env, name, file, host string) (hub site.Hub, from string, err error) {
	if name == "none" {
		return site.Hub{}, "", nil
	}
	path := file
	if path == "" {
		dir, ok := env.LookupEnv("OCS_CONFIG_DIR")
		if !ok || dir == "" {
			if name != "" {
				return site.Hub{}, "", fmt.Errorf("--site %s: OCS_CONFIG_DIR is not set (or use --site-file)", name)
			}
			return site.Hub{}, "", nil
		}
		if name == "" {
			name = "default"
		}
		path = filepath.Join(dir, name+".yaml")
	}
	cfg, err := site.Load(path)
	if err != nil {
		return site.Hub{}, "", err
	}
	hub = cfg.Hub
	candidates := []string{host}
	if host == "" {
		candidates = []string{env.Hostname, "localhost"}
	}
	entry := ""
	for _, cand := range candidates {
		if entry == "" && cand != "" && slices.Contains(cfg.HostNames(), cand) {
			entry = cand
		}
	}
	if entry == "" {
		if host != "" {
			return site.Hub{}, "", fmt.Errorf("site config %s has no host entry %q", cfg.File, host)
		}
		return hub, cfg.File, nil // OCS's clients then use the hub as it is
	}
	h, err := cfg.Host(entry)
	if err != nil {
		return site.Hub{}, "", err
	}
	if h.WampServer != "" {
		hub.WampServer = h.WampServer
	}
	if h.WampHTTP != "" {
		hub.WampHTTP = h.WampHTTP
	}
	if h.WampRealm != "" {
		hub.WampRealm = h.WampRealm
	}
	return hub, cfg.File, nil
}
