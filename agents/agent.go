package agents

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gammazero/nexus/v3/client"

	"github.com/ocsflux/ocsflux/feeds"
)

// ErrNotConnected is returned by publishes while the agent has no WAMP
// session (before the first join, between a loss and the rejoin, after
// Run). As in OCS, the data is lost.
var ErrNotConnected = errors.New("not connected to the WAMP router")

// Agent is one OCS agent instance. Create it with [New], register ops,
// feeds and subscriptions, then call [Agent.Run].
type Agent struct {
	cfg     Config
	log     *slog.Logger
	address string
	now     func() time.Time

	// sessionID is the feed_info session_id: the agent's start time as
	// Python's str(time.time()).
	sessionID    string
	aclTimestamp float64

	ops *opsManager

	mu         sync.Mutex // guards feeds, feedByName, subs, started
	feeds      []*Feed
	feedByName map[string]*Feed
	subs       []*Subscription
	started    bool

	heartbeatOff atomic.Bool

	// pubMu is held for reading while publishing on client and for writing
	// while the supervisor swaps client, so a publish never uses a client
	// that is being closed.
	pubMu  sync.RWMutex
	client *client.Client
}

// New checks cfg, fills in its defaults and returns an agent that has not
// started anything.
func New(cfg Config) (*Agent, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	now := time.Now
	a := &Agent{
		cfg:        cfg,
		address:    cfg.Address(),
		now:        now,
		feedByName: map[string]*Feed{},
	}
	a.log = cfg.Logger.With("agent", a.address)
	a.sessionID = feeds.SessionIDFromTime(now())
	a.aclTimestamp = unixFloat(now())
	a.ops = newOpsManager(a.log, func() time.Time { return a.now() })
	return a, nil
}

// Address returns the agent's address, <address_root>.<instance-id>.
func (a *Agent) Address() string { return a.address }

// SessionID returns the feed_info session_id of this agent process.
func (a *Agent) SessionID() string { return a.sessionID }

// RegisterTask registers a task. Call it before Run.
func (a *Agent) RegisterTask(spec OpSpec) error { return a.register(kindTask, spec) }

// RegisterProcess registers a process. Call it before Run.
func (a *Agent) RegisterProcess(spec OpSpec) error { return a.register(kindProcess, spec) }

func (a *Agent) register(kind opKind, spec OpSpec) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return fmt.Errorf("register %s %q: agent %s is already running", kind, spec.Name, a.address)
	}
	return a.ops.register(kind, spec)
}

// SetHeartbeat switches heartbeat publishing on or off (FakeDataAgent's
// set_heartbeat task). It is on by default.
func (a *Agent) SetHeartbeat(on bool) { a.heartbeatOff.Store(!on) }

// publish sends one event with the given positional arguments.
func (a *Agent) publish(topic string, args []any) error {
	a.pubMu.RLock()
	defer a.pubMu.RUnlock()
	if a.client == nil {
		return ErrNotConnected
	}
	if err := a.client.Publish(topic, nil, args, nil); err != nil {
		if errors.Is(err, client.ErrNotConn) {
			return ErrNotConnected
		}
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

// setClient installs (or, with nil, removes) the WAMP client publishes use.
func (a *Agent) setClient(c *client.Client) {
	a.pubMu.Lock()
	a.client = c
	a.pubMu.Unlock()
}
