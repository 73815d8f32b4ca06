package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/internal/wampguard"
)

// simAgent is one simulated OCS agent: a WAMP session that publishes
// recorded feed messages. It registers no procedures and sends no
// heartbeat; the publisher only needs its feed events.
type simAgent struct {
	k         int
	address   string
	sessionID string
	c         *client.Client
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
	g := wampguard.New(p, 256, 0)
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
