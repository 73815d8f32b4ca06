package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"
)

// simAgent is one simulated OCS agent: a WAMP session that publishes
// recorded feed messages. It registers no procedures and sends no
// heartbeat; the publisher only needs its feed events.
type simAgent struct {
	k         int
	address   string
	sessionID string
	c         *client.Client
	peer      *sendGuard
	samples   *sampler
}

// connectTimeout bounds the WebSocket dial and the realm join.
const connectTimeout = 10 * time.Second

// dialAgent connects agent k to the router and joins the realm.
func dialAgent(ctx context.Context, cfg *Config, k int, fields []string, logger *slog.Logger) (*simAgent, error) {
	dctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	nexusLog := slog.NewLogLogger(logger.With("component", "nexus").Handler(), slog.LevelDebug)
	p, err := transport.ConnectWebsocketPeer(dctx, cfg.RouterURL, serialize.MSGPACK, nil, nexusLog, nil)
	if err != nil {
		return nil, fmt.Errorf("connect to router %s: %w", cfg.RouterURL, err)
	}
	g := newSendGuard(p)
	c, err := client.NewClient(g, client.Config{
		Realm:           cfg.Realm,
		ResponseTimeout: connectTimeout,
		Logger:          nexusLog,
		Serialization:   serialize.MSGPACK,
	})
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("join realm %q at %s: %w", cfg.Realm, cfg.RouterURL, err)
	}
	return &simAgent{
		k:         k,
		address:   AgentAddress(cfg.AddressRoot, cfg.RunID, k),
		sessionID: SessionID(time.Now()),
		c:         c,
		peer:      g,
		samples:   newSampler(fields, cfg.Mix, uint64(k)+1),
	}, nil
}

// errConnectionLost is returned when the router closed an agent's session.
var errConnectionLost = errors.New("the router closed the session")

// publish sends one message of n samples on feed and returns the publish
// time and the newest sample's timestamp (µs).
func (a *simAgent) publish(feed string, info wamp.Dict, n int) (time.Time, int64, error) {
	select {
	case <-a.c.Done():
		return time.Time{}, 0, fmt.Errorf("agent %s: %w", a.address, errConnectionLost)
	default:
	}
	now := time.Now()
	msg, newest := a.samples.message(now, n)
	if err := a.c.Publish(a.address+".feeds."+feed, nil, EventArgs(msg, info), nil); err != nil {
		return time.Time{}, 0, fmt.Errorf("agent %s: publish on feed %s: %w", a.address, feed, err)
	}
	return now, newest, nil
}

// close leaves the realm and closes the connection.
func (a *simAgent) close() {
	_ = a.c.Close()
}

// sendGuard wraps a nexus WebSocket peer so that a Publish can never block
// forever or send on a closed channel once the connection is gone: nexus's
// peer stops reading its send channel when the connection dies and closes
// it in Close. Messages go to a buffered channel of our own that is never
// closed; one goroutine forwards them while the connection lives and
// discards them once it is dead (the agent then sees Done and stops).
type sendGuard struct {
	inner    wamp.Peer
	out      chan wamp.Message
	in       chan wamp.Message
	stop     chan struct{}
	dead     chan struct{}
	sendDone chan struct{}
	recvDone chan struct{}
	once     sync.Once
}

func newSendGuard(inner wamp.Peer) *sendGuard {
	g := &sendGuard{
		inner:    inner,
		out:      make(chan wamp.Message, 256),
		in:       make(chan wamp.Message),
		stop:     make(chan struct{}),
		dead:     make(chan struct{}),
		sendDone: make(chan struct{}),
		recvDone: make(chan struct{}),
	}
	go g.sendLoop()
	go g.recvLoop()
	return g
}

func (g *sendGuard) Send() chan<- wamp.Message { return g.out }
func (g *sendGuard) Recv() <-chan wamp.Message { return g.in }
func (g *sendGuard) IsLocal() bool             { return false }

// Close stops both loops and closes the connection. Nothing may Send
// after Close.
func (g *sendGuard) Close() {
	g.once.Do(func() {
		close(g.stop)
		<-g.sendDone
		g.inner.Close()
		<-g.recvDone
	})
}

func (g *sendGuard) sendLoop() {
	defer close(g.sendDone)
	for {
		select {
		case m := <-g.out:
			select {
			case g.inner.Send() <- m:
			case <-g.dead:
			case <-g.stop:
				return
			}
		case <-g.stop:
			return
		}
	}
}

func (g *sendGuard) recvLoop() {
	defer close(g.recvDone)
	defer close(g.dead)
	defer close(g.in)
	for m := range g.inner.Recv() {
		select {
		case g.in <- m:
		case <-g.stop:
		}
	}
}
