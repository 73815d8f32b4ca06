package router

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	nexusrouter "github.com/gammazero/nexus/v3/router"
	"github.com/gammazero/nexus/v3/transport"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

// The WebSocket subprotocols the router speaks. The .batched variants are
// not spoken; a client that offers one also offers the plain variant.
const (
	ProtocolJSON    = "wamp.2.json"
	ProtocolMsgpack = "wamp.2.msgpack"
	ProtocolCBOR    = "wamp.2.cbor"
)

// protocolFor returns the serializer and frame type for a subprotocol.
func protocolFor(name string) (serializer serialize.Serializer, payloadType int, ok bool) {
	switch name {
	case ProtocolJSON:
		return wampjson.Serializer{}, websocket.TextMessage, true
	case ProtocolMsgpack:
		return &serialize.MessagePackSerializer{}, websocket.BinaryMessage, true
	case ProtocolCBOR:
		return &serialize.CBORSerializer{}, websocket.BinaryMessage, true
	}
	return nil, 0, false
}

// ChooseSubprotocol returns the first subprotocol in offer (the client's
// Sec-WebSocket-Protocol list, in the client's order of preference) that
// the router speaks, as crossbar does, and false if there is none.
func ChooseSubprotocol(offer []string) (string, bool) {
	for _, p := range offer {
		if _, _, ok := protocolFor(p); ok {
			return p, true
		}
	}
	return "", false
}

// offeredSubprotocols lists the client's subprotocols in order, from every
// Sec-WebSocket-Protocol header line.
func offeredSubprotocols(r *http.Request) []string {
	var out []string
	for _, line := range r.Header.Values("Sec-Websocket-Protocol") {
		for _, p := range strings.Split(line, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// wsHandler upgrades requests on WSPath to WAMP WebSocket sessions of the
// nexus router. A handshake from a web page whose origin is not allowed
// (Config.AllowOrigins) is refused with HTTP 403 before the upgrade. It
// runs nexus's AttachClient (which waits for the HELLO) in the request
// goroutine and tracks those goroutines so that shutdown can end them
// before the nexus router closes.
type wsHandler struct {
	nexus        nexusrouter.Router
	nexusLog     *log.Logger
	logger       *slog.Logger
	counters     *counters
	maxMessage   int64
	outQueueSize int
	keepAlive    time.Duration
	origins      *originPolicy
	upgrader     websocket.Upgrader

	mu      sync.Mutex
	closing bool
	pending map[*websocket.Conn]struct{} // upgraded, not yet attached
	wg      sync.WaitGroup
}

func newWSHandler(nx nexusrouter.Router, nexusLog *log.Logger, logger *slog.Logger, c *counters, origins *originPolicy, cfg Config) *wsHandler {
	keepAlive := cfg.KeepAlive
	if keepAlive < 0 {
		keepAlive = 0
	}
	return &wsHandler{
		nexus:        nx,
		nexusLog:     nexusLog,
		logger:       logger,
		counters:     c,
		maxMessage:   cfg.MaxMessageSize,
		outQueueSize: cfg.OutQueueSize,
		keepAlive:    keepAlive,
		origins:      origins,
		upgrader: websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			// ServeHTTP has already refused origins not allowed; this is
			// the same check again, should the order ever change. Not
			// gorilla's default same-origin rule: under DNS rebinding an
			// attacker's page is "same-origin" with the router.
			CheckOrigin: origins.allows,
		},
		pending: map[*websocket.Conn]struct{}{},
	}
}

// begin registers a request goroutine; false once shutdown has begun.
func (h *wsHandler) begin() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.wg.Add(1)
	return true
}

// track records an upgraded connection that is still waiting for HELLO;
// false once shutdown has begun.
func (h *wsHandler) track(c *websocket.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.pending[c] = struct{}{}
	return true
}

func (h *wsHandler) isClosing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closing
}

func (h *wsHandler) untrack(c *websocket.Conn) {
	h.mu.Lock()
	delete(h.pending, c)
	h.mu.Unlock()
}

// shutdown refuses new upgrades, closes connections that have not finished
// joining, and waits for every request goroutine. Attached sessions belong
// to nexus and end when the nexus router closes.
func (h *wsHandler) shutdown() {
	h.mu.Lock()
	h.closing = true
	for c := range h.pending {
		_ = c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

func (h *wsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if origin, ok := h.origins.check(r); !ok {
		h.origins.refused(r, origin)
		http.Error(w, originRefusal(origin), http.StatusForbidden)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "This is the WAMP WebSocket endpoint of the ocsflux router; connect with a WebSocket client.", http.StatusUpgradeRequired)
		return
	}
	offer := offeredSubprotocols(r)
	proto, ok := ChooseSubprotocol(offer)
	if !ok {
		h.logger.Warn("websocket client offers no supported WAMP subprotocol",
			"remote", r.RemoteAddr, "offered", offer)
		http.Error(w, fmt.Sprintf("This server only speaks WebSocket subprotocols %s, %s, %s",
			ProtocolCBOR, ProtocolMsgpack, ProtocolJSON), http.StatusNotAcceptable)
		return
	}
	if !h.begin() {
		http.Error(w, "router is shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.wg.Done()

	hdr := http.Header{}
	hdr.Set("Sec-Websocket-Protocol", proto) // Upgrader.Subprotocols is nil: this is the choice.
	conn, err := h.upgrader.Upgrade(w, r, hdr)
	if err != nil {
		h.logger.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return // Upgrade has replied with an HTTP error.
	}
	conn.SetReadLimit(h.maxMessage)
	if !h.track(conn) {
		_ = conn.Close()
		return
	}
	defer h.untrack(conn)

	serializer, payloadType, _ := protocolFor(proto)
	wrapped := &wsConn{Conn: conn, handler: h, remote: r.RemoteAddr}
	peer := transport.NewWebsocketPeer(wrapped, newCrossbarErrors(serializer), payloadType,
		h.nexusLog, h.keepAlive, h.outQueueSize)
	details := wamp.Dict{transportType: transportWebSocket, "protocol": proto, "peer": r.RemoteAddr}
	if err := h.nexus.AttachClient(ownDetailsPeer{peer}, details); err != nil {
		level := slog.LevelInfo
		if h.isClosing() {
			level = slog.LevelDebug
		}
		h.logger.Log(r.Context(), level, "websocket client did not join", "remote", r.RemoteAddr, "protocol", proto, "err", err)
		return
	}
	h.logger.Debug("websocket client joined", "remote", r.RemoteAddr, "protocol", proto)
}

// wsConn counts and logs messages refused for exceeding the size limit
// (gorilla closes the connection with code 1009).
type wsConn struct {
	*websocket.Conn
	handler *wsHandler
	remote  string
}

func (c *wsConn) ReadMessage() (int, []byte, error) {
	t, b, err := c.Conn.ReadMessage()
	if errors.Is(err, websocket.ErrReadLimit) {
		c.handler.counters.tooLarge.Add(1)
		c.handler.logger.Warn("websocket message larger than the router's max message size; connection closed",
			"remote", c.remote, "max_message_size", c.handler.maxMessage)
	}
	return t, b, err
}

// ownDetailsPeer works around a data race in nexus v3.3.0's broker: one
// publication's EVENT details map is shared by all its remote subscribers,
// and the broker writes details.topic into it for every pattern-based
// subscriber while the events already queued to earlier subscribers are
// being serialized on their connections' goroutines. Go reports that as a
// fatal "concurrent map read and map write". nexus gives each *local*
// subscriber its own copy of the details and arguments, so the router's
// WebSocket peers say they are local. The only other effects of IsLocal in
// nexus are skipping authentication and authorization, which the realm
// turns back on for every session (RequireLocalAuth, RequireLocalAuthz);
// the authorizer tells WebSocket sessions from in-process ones by their
// transport details.
type ownDetailsPeer struct{ wamp.Peer }

func (ownDetailsPeer) IsLocal() bool { return true }
