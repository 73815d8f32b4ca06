package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	nxclient "github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"
)

// WAMPConfig configures a WAMP client.
type WAMPConfig struct {
	// URL is the router's WebSocket, the site's hub.wamp_server
	// (e.g. ws://localhost:8001/ws).
	URL string
	// Realm is the site's hub.wamp_realm. Default "test_realm".
	Realm string
	// Address is the agent's address, <address_root>.<instance-id>.
	Address string
	// Logger receives nexus's log. Default: discard.
	Logger *slog.Logger
}

// WAMP controls an agent over a WebSocket WAMP session (msgpack). Create
// it with DialWAMP and Close it when done.
type WAMP struct {
	url     string
	address string
	c       *nxclient.Client
}

// DialWAMP joins the realm. A router that cannot be reached or a realm
// that cannot be joined is an *Error with URI ErrConnection.
func DialWAMP(ctx context.Context, cfg WAMPConfig) (*WAMP, error) {
	if cfg.URL == "" {
		return nil, errors.New("wamp client: no router URL")
	}
	if cfg.Address == "" {
		return nil, errors.New("wamp client: no agent address")
	}
	if cfg.Realm == "" {
		cfg.Realm = "test_realm"
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c, err := nxclient.ConnectNet(ctx, cfg.URL, nxclient.Config{
		Realm:         cfg.Realm,
		Serialization: serialize.MSGPACK,
		Logger:        slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	})
	if err != nil {
		return nil, connectionError(cfg.URL, err)
	}
	return &WAMP{url: cfg.URL, address: cfg.Address, c: c}, nil
}

// Close leaves the realm.
func (w *WAMP) Close() error {
	if err := w.c.Close(); err != nil && !errors.Is(err, nxclient.ErrAlreadyClosed) {
		return fmt.Errorf("close wamp client: %w", err)
	}
	return nil
}

// Call calls procedure and returns its first result (nil when it returned
// none). A WAMP error is an *Error with its URI, args and kwargs; a lost
// connection an *Error with URI ErrConnection.
func (w *WAMP) Call(ctx context.Context, procedure string, args []any, kwargs map[string]any) (any, error) {
	res, err := w.c.Call(ctx, procedure, nil, wamp.List(args), wamp.Dict(kwargs), nil)
	if err != nil {
		var rpcErr nxclient.RPCError
		switch {
		case errors.As(err, &rpcErr):
			e := &Error{URI: string(rpcErr.Err.Error)}
			if args, ok := normalize(rpcErr.Err.Arguments).([]any); ok && len(args) > 0 {
				e.Args = args
			}
			if kw, ok := normalize(rpcErr.Err.ArgumentsKw).(map[string]any); ok && len(kw) > 0 {
				e.Kwargs = kw
			}
			return nil, e
		case ctx.Err() != nil:
			return nil, fmt.Errorf("call %s: %w", procedure, ctx.Err())
		case errors.Is(err, nxclient.ErrNotConn):
			return nil, connectionError(w.url, err)
		}
		return nil, fmt.Errorf("call %s: %w", procedure, err)
	}
	if len(res.Arguments) == 0 {
		return nil, nil
	}
	return normalize(res.Arguments[0]), nil
}

// GetAPI returns the agent's get_api dict.
func (w *WAMP) GetAPI(ctx context.Context) (map[string]any, error) {
	return getAPI(ctx, w.Call, w.address)
}

// Ops calls the agent's .ops procedure; see HTTP.Ops.
func (w *WAMP) Ops(ctx context.Context, action, op string, params map[string]any, timeout *float64) (Reply, error) {
	return ops(ctx, w.Call, w.address, action, op, params, timeout)
}
