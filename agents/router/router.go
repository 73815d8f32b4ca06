package router

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	nxclient "github.com/gammazero/nexus/v3/client"
	nexusrouter "github.com/gammazero/nexus/v3/router"
	"github.com/gammazero/nexus/v3/wamp"
)

const (
	// shutdownGrace bounds how long Run waits for HTTP requests to finish
	// once it has cancelled the bridge's calls.
	shutdownGrace = 5 * time.Second
	// bridgeResponseTimeout is the in-process bridge session's wait for the
	// router's acknowledgements (join, cancel, goodbye). It does not limit
	// calls: a call through the bridge waits as long as the callee takes.
	bridgeResponseTimeout = 2 * time.Second
)

// Router is the embedded WAMP router with its WebSocket endpoint, HTTP
// caller bridge and readiness page. Create it with New and run it with Run.
type Router struct {
	cfg      Config
	logger   *slog.Logger
	counters counters
	started  atomic.Bool
	ready    chan struct{}
	addr     net.Addr // set before ready is closed

	mu sync.RWMutex
	nx nexusrouter.Router // non-nil while Run serves
}

// New checks cfg and returns a Router. It starts nothing.
func New(cfg Config) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Router{
		cfg:    cfg,
		logger: cfg.Logger.With("component", "router"),
		ready:  make(chan struct{}),
	}, nil
}

// Ready is closed once Run is listening; Addr and the URL methods are valid
// from then on.
func (r *Router) Ready() <-chan struct{} { return r.ready }

// Addr is the address Run listens on (with the real port when Listen's
// port is 0), or nil before Ready.
func (r *Router) Addr() net.Addr {
	select {
	case <-r.ready:
		return r.addr
	default:
		return nil
	}
}

// dialHost is the listen address as a client on this machine reaches it.
func (r *Router) dialHost() string {
	addr := r.Addr()
	if addr == nil {
		return ""
	}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
}

// WSURL is the WebSocket URL clients on this machine use (ws://host:port/ws),
// or "" before Ready.
func (r *Router) WSURL() string {
	if h := r.dialHost(); h != "" {
		return "ws://" + h + r.cfg.WSPath
	}
	return ""
}

// CallURL is the HTTP bridge URL (http://host:port/call), or "" before
// Ready.
func (r *Router) CallURL() string {
	if h := r.dialHost(); h != "" {
		return "http://" + h + r.cfg.CallPath
	}
	return ""
}

// Realm is the realm the router serves.
func (r *Router) Realm() string { return r.cfg.Realm }

// Stats returns the router's counters.
func (r *Router) Stats() Stats { return r.counters.snapshot() }

// Start runs r in the background and returns once it is listening, or
// with the error that stopped it first. stop shuts r down and waits for
// Run to return; nothing else stops it, so that the caller can stop it
// after what depends on it (agents leave before their router goes).
func (r *Router) Start() (stop func(), err error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case <-r.ready:
		return func() { cancel(); <-done }, nil
	case err := <-done:
		cancel()
		if err == nil {
			err = errors.New("router: stopped before listening")
		}
		return nil, err
	}
}

// Run serves until ctx is done, then shuts down: it stops accepting
// connections, cancels calls in flight on the HTTP bridge, ends sessions
// that have not finished joining, says GOODBYE to every session, closes
// the realm and returns once every goroutine it started has ended. It
// returns nil after a shutdown asked for by ctx, or the error that stopped
// it. Run may be called once.
func (r *Router) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("router: Run called more than once")
	}
	cfg := r.cfg
	nexusLog := newNexusLogger(r.logger, &r.counters)
	nx, err := nexusrouter.NewRouter(&nexusrouter.Config{
		RealmConfigs: []*nexusrouter.RealmConfig{{
			URI:           wamp.URI(cfg.Realm),
			StrictURI:     false,
			AnonymousAuth: true,
			AllowDisclose: false,
			Authorizer:    prefixAuthorizer{prefix: cfg.AddressRoot + "."},
			// WebSocket peers present themselves as local (ownDetailsPeer);
			// make nexus authenticate and authorize them all the same.
			RequireLocalAuth:  true,
			RequireLocalAuthz: true,
		}},
	}, nexusLog)
	if err != nil {
		return fmt.Errorf("start nexus router: %w", err)
	}
	defer nx.Close()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("router listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close() //nolint:errcheck // Shutdown closes it first; this covers early returns.

	caller, err := nxclient.ConnectLocal(nx, nxclient.Config{
		Realm:           cfg.Realm,
		Logger:          nexusLog,
		LocalQueueSize:  cfg.OutQueueSize,
		ResponseTimeout: bridgeResponseTimeout,
	})
	if err != nil {
		return fmt.Errorf("join the bridge session to realm %q: %w", cfg.Realm, err)
	}
	defer caller.Close() //nolint:errcheck // ErrAlreadyClosed is the only error.

	stopping, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	origins := newOriginPolicy(cfg.AllowOrigins, r.logger)
	ws := newWSHandler(nx, nexusLog, r.logger, &r.counters, origins, cfg)
	br := newBridge(caller, origins, cfg, r.logger, stopping)
	// No ReadTimeout or WriteTimeout: WebSocket connections and bridge
	// calls (an .ops wait) last as long as they last. The bridge bounds the
	// time to read its bodies itself (CallBodyTimeout).
	srv := &http.Server{
		Handler:           r.routes(ws, br),
		ReadHeaderTimeout: noneIfNegative(cfg.ReadHeaderTimeout),
		IdleTimeout:       noneIfNegative(cfg.IdleTimeout),
		ErrorLog:          slog.NewLogLogger(r.logger.Handler(), slog.LevelDebug),
	}

	r.mu.Lock()
	r.nx = nx
	r.mu.Unlock()
	r.addr = ln.Addr()
	close(r.ready)
	r.logger.Info("router listening",
		"websocket", r.WSURL(), "call", r.CallURL(), "realm", cfg.Realm, "address_root", cfg.AddressRoot,
		"max_message_size", cfg.MaxMessageSize, "out_queue_size", cfg.OutQueueSize,
		"allow_origins", cfg.AllowOrigins)
	if len(cfg.AllowOrigins) == 0 {
		r.logger.Debug("no web page origin allowed: browser requests (ocs-web) are refused; see --allow-origin")
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	var runErr error
	served := false
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		served = true
		runErr = fmt.Errorf("router serve: %w", err)
	}

	r.logger.Info("router shutting down")
	stop() // cancels bridge calls in flight
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	if err := srv.Shutdown(shutdownCtx); err != nil {
		r.logger.Warn("http requests still running at shutdown; closing them", "err", err)
		_ = srv.Close()
	}
	cancel()
	if !served {
		<-serveErr
	}
	ws.shutdown()
	r.mu.Lock()
	r.nx = nil // no new local sessions
	r.mu.Unlock()
	if err := caller.Close(); err != nil && !errors.Is(err, nxclient.ErrAlreadyClosed) {
		r.logger.Debug("close bridge session", "err", err)
	}
	nx.Close()
	s := r.Stats()
	r.logger.Info("router stopped",
		"dropped_events", s.DroppedEvents, "dropped_other", s.DroppedOther, "too_large", s.TooLarge)
	return runErr
}

// noneIfNegative maps the Config convention (negative: no limit) to
// net/http's (zero: no limit; negative ReadHeaderTimeout would fall back
// to ReadTimeout).
func noneIfNegative(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

// ConnectLocal joins a new in-process session to the router's realm
// (cfg.Realm is ignored). It works between Ready and the end of Run. Local
// sessions skip serialization and are trusted: the address-root rule does
// not apply to them. Close the client when done; Run's shutdown ends it
// otherwise.
func (r *Router) ConnectLocal(cfg nxclient.Config) (*nxclient.Client, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.nx == nil {
		return nil, errors.New("router is not running")
	}
	cfg.Realm = r.cfg.Realm
	if cfg.Logger == nil {
		cfg.Logger = newNexusLogger(r.logger, &r.counters)
	}
	c, err := nxclient.ConnectLocal(r.nx, cfg)
	if err != nil {
		return nil, fmt.Errorf("join local session: %w", err)
	}
	return c, nil
}

// routes dispatches on the exact request path.
func (r *Router) routes(ws, br http.Handler) http.Handler {
	wsPath, callPath := r.cfg.WSPath, r.cfg.CallPath
	info := r.infoPage()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case wsPath:
			ws.ServeHTTP(w, req)
		case callPath:
			br.ServeHTTP(w, req)
		case InfoPath:
			if req.Method != http.MethodGet && req.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(info)
		default:
			http.NotFound(w, req)
		}
	})
}

// infoPage stands in for crossbar's node-info page: OCS's test fixtures
// only need it to answer 200.
func (r *Router) infoPage() []byte {
	return []byte("<!DOCTYPE html>\n<html><head><title>ocsflux router</title></head><body>\n" +
		"<h1>ocsflux router</h1>\n<p>realm " + html.EscapeString(r.cfg.Realm) +
		", address root " + html.EscapeString(r.cfg.AddressRoot) +
		", WAMP WebSocket at " + html.EscapeString(r.cfg.WSPath) +
		", HTTP caller bridge at " + html.EscapeString(r.cfg.CallPath) + "</p>\n</body></html>\n")
}
