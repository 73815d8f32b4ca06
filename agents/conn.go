package agents

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"
	"github.com/gorilla/websocket"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/internal/wampguard"
)

// dial opens a WebSocket to the router and joins the realm.
func (a *Agent) dial(ctx context.Context) (*client.Client, error) {
	u, err := url.Parse(a.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("wamp_server %q: %w", a.cfg.URL, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	var ser serialize.Serialization
	switch a.cfg.Serialization {
	case "json":
		ser = serialize.JSON
	case "cbor":
		ser = serialize.CBOR
	default:
		ser = serialize.MSGPACK
	}
	nexusLog := slog.NewLogLogger(a.log.With("component", "nexus").Handler(), slog.LevelDebug)
	keepAlive := a.cfg.KeepAlive
	if keepAlive < 0 {
		keepAlive = 0
	}
	dctx, cancel := context.WithTimeout(ctx, a.cfg.ResponseTimeout)
	defer cancel()
	p, err := connectPeer(dctx, u.String(), ser, a.cfg.TLSConfig, nexusLog, keepAlive, a.rawTopics(), a.log)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", a.cfg.URL, err)
	}
	c, err := client.NewClient(wampguard.New(p, sendQueue, recvQueue), client.Config{
		Realm:           a.cfg.Realm,
		ResponseTimeout: a.cfg.ResponseTimeout,
		Logger:          nexusLog,
		Serialization:   ser,
	})
	if err != nil {
		return nil, fmt.Errorf("join realm %q at %s: %w", a.cfg.Realm, a.cfg.URL, err)
	}
	return c, nil
}

// The WebSocket subprotocols of WAMP.
const (
	msgpackProtocol = "wamp.2.msgpack"
	jsonProtocol    = "wamp.2.json"
	cborProtocol    = "wamp.2.cbor"
)

// connectPeer opens a WAMP WebSocket connection with the serialization
// ser, as transport.ConnectWebsocketPeer does, except that the serializer
// passes on the EVENTs it cannot decode, with their error (see
// undecodable), and that with msgpack EVENT messages are decoded by
// feeds.DecodeMsgpackEvent: the same result as nexus's decoder (which
// still handles every other message, and any event the fast decoder
// declines) at a third to a quarter of the cost, which matters for a
// subscriber such as the InfluxDB publisher that receives every feed. The
// EVENTs of the subscriptions to the raw topics (see rawTopics) are not
// decoded at all: see eventMsgpack. agentLog gets what is dropped.
func connectPeer(ctx context.Context, u string, ser serialize.Serialization, tlsConfig *tls.Config, logger *log.Logger, keepAlive time.Duration, raw map[string]bool, agentLog *slog.Logger) (wamp.Peer, error) {
	protocol := msgpackProtocol
	switch ser {
	case serialize.JSON:
		protocol = jsonProtocol
	case serialize.CBOR:
		protocol = cborProtocol
	}
	d := websocket.Dialer{
		Subprotocols:    []string{protocol},
		TLSClientConfig: tlsConfig,
		Proxy:           http.ProxyFromEnvironment,
	}
	if protocol == msgpackProtocol {
		d.ReadBufferSize = readBufferSize
	}
	conn, rsp, err := d.DialContext(ctx, u, nil)
	if err != nil {
		return nil, &transport.WebsocketError{Err: err, Response: rsp}
	}
	if conn.Subprotocol() != protocol {
		_ = conn.Close()
		return nil, fmt.Errorf("the router did not accept WebSocket subprotocol %s (got %q)", protocol, conn.Subprotocol())
	}
	switch protocol {
	case jsonProtocol:
		s := &serialize.JSONSerializer{}
		return transport.NewWebsocketPeer(conn, &guardedSerializer{s, newUndecodable(s, jsonEventHead, agentLog)},
			websocket.TextMessage, logger, keepAlive, 0), nil
	case cborProtocol:
		s := &serialize.CBORSerializer{}
		return transport.NewWebsocketPeer(conn, &guardedSerializer{s, newUndecodable(s, cborEventHead, agentLog)},
			websocket.BinaryMessage, logger, keepAlive, 0), nil
	}
	return transport.NewWebsocketPeer(&reusingConn{Conn: conn}, newEventMsgpack(raw, agentLog), websocket.BinaryMessage, logger, keepAlive, 0), nil
}

// readBufferSize is the WebSocket connection's read buffer: large enough
// that a burst of events takes one read system call, not one per event.
const readBufferSize = 64 << 10

// maxReuse is the largest message buffer reusingConn keeps for the next
// message.
const maxReuse = 1 << 20

// reusingConn is a WebSocket connection whose ReadMessage reads every
// message into the same buffer, where gorilla's allocates a new one and
// grows it from 512 bytes. That is safe only because the peer's receive
// loop (nexus's websocketPeer.recvHandler) hands each message to the
// serializer before it reads the next, and neither msgpack decoder keeps a
// reference into its input (feeds.DecodeMsgpackEvent copies every string;
// nexus's copies strings and binaries, as ZeroCopy is off).
type reusingConn struct {
	*websocket.Conn
	buf []byte
}

func (c *reusingConn) ReadMessage() (int, []byte, error) {
	typ, r, err := c.NextReader()
	if err != nil {
		return typ, nil, err
	}
	buf := c.buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return typ, buf, err
		}
	}
	if cap(buf) <= maxReuse {
		c.buf = buf
	}
	return typ, buf, nil
}

// eventMsgpack is nexus's msgpack serializer with the fast EVENT decoder.
//
// It also passes the EVENTs of raw subscriptions (RawMsgpack) on
// undecoded: it notes the request IDs of the SUBSCRIBEs it sends for the
// raw topics, learns their subscription IDs from the SUBSCRIBED replies,
// and then decodes only the IDs and Details of those subscriptions'
// EVENTs; a copy of the message rides in Arguments as the single element
// *rawPayload, which Subscription.onEvent turns into Event.Raw. The copy
// is needed because reusingConn reuses its buffer; its memory is recycled
// once the handler returned. An EVENT nexus cannot decode is passed on
// with its error (see undecodable), and, for a raw subscription, a copy of
// the message.
type eventMsgpack struct {
	serialize.MessagePackSerializer
	raw map[string]bool // rawKey of the raw subscriptions; fixed
	bad *undecodable

	mu      sync.Mutex
	pending map[wamp.ID]bool // SUBSCRIBE request IDs for raw topics

	rawSubs map[wamp.ID]bool // raw subscription IDs; receive goroutine only
	pool    sync.Pool        // of *rawPayload
}

func newEventMsgpack(raw map[string]bool, log *slog.Logger) *eventMsgpack {
	return &eventMsgpack{raw: raw, bad: newUndecodable(&serialize.MessagePackSerializer{}, msgpackEventHead, log),
		pending: map[wamp.ID]bool{}, rawSubs: map[wamp.ID]bool{}}
}

// rawPayload is a copy of one raw EVENT message (see eventMsgpack).
type rawPayload struct {
	data []byte
	pool *sync.Pool
}

// release recycles p's memory; p must not be used after.
func (p *rawPayload) release() {
	if p.pool != nil && cap(p.data) <= maxReuse {
		p.data = p.data[:0]
		p.pool.Put(p)
	}
}

// rawKey identifies a subscription by topic and match policy.
func rawKey(topic string, match Match) string {
	if match == "" {
		match = MatchExact
	}
	return string(match) + " " + topic
}

func (s *eventMsgpack) Serialize(msg wamp.Message) ([]byte, error) {
	if sub, ok := msg.(*wamp.Subscribe); ok && len(s.raw) > 0 {
		m, _ := sub.Options[wamp.OptMatch].(string)
		if s.raw[rawKey(string(sub.Topic), Match(m))] {
			s.mu.Lock()
			s.pending[sub.Request] = true
			s.mu.Unlock()
		}
	}
	return s.MessagePackSerializer.Serialize(msg)
}

func (s *eventMsgpack) Deserialize(data []byte) (wamp.Message, error) {
	if len(s.rawSubs) > 0 {
		if ev := s.rawEvent(data); ev != nil {
			return ev, nil
		}
	}
	if ev, ok := feeds.DecodeMsgpackEvent(data); ok {
		return ev, nil
	}
	msg, err := s.MessagePackSerializer.Deserialize(data)
	if err != nil {
		ev := s.bad.event(data, err)
		if ev == nil {
			return nil, err
		}
		if s.rawSubs[ev.Subscription] {
			ev.Arguments[0].(*badPayload).raw = s.copy(data)
		}
		return ev, nil
	}
	if sub, ok := msg.(*wamp.Subscribed); ok && len(s.raw) > 0 {
		s.mu.Lock()
		if s.pending[sub.Request] {
			delete(s.pending, sub.Request)
			s.rawSubs[sub.Subscription] = true
		}
		s.mu.Unlock()
	}
	return msg, err
}

// rawEvent returns an EVENT of a raw subscription with its message in a
// *rawPayload, or nil for any other message, or an event whose Details ask
// nexus to unpack its payload (payload passthru).
func (s *eventMsgpack) rawEvent(data []byte) *wamp.Event {
	sub, ok := feeds.MsgpackEventSubscription(data)
	if !ok || !s.rawSubs[sub] {
		return nil
	}
	ev, ok := feeds.DecodeMsgpackEventHead(data)
	if !ok {
		return nil
	}
	if _, ppt := ev.Details[wamp.OptPPTScheme]; ppt {
		return nil
	}
	ev.Arguments = wamp.List{s.copy(data)}
	return ev
}

// copy returns a copy of data in a *rawPayload from the pool.
func (s *eventMsgpack) copy(data []byte) *rawPayload {
	p, _ := s.pool.Get().(*rawPayload)
	if p == nil {
		p = &rawPayload{pool: &s.pool}
	}
	p.data = append(p.data[:0], data...)
	return p
}

// The guarded peer's queues (see wampguard): recvQueue received messages
// may wait for the client's receive loop, so the forwarder hands a burst
// over without a goroutine switch per message.
const (
	sendQueue = 64
	recvQueue = 64
)
