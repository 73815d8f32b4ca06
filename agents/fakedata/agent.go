package fakedata

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ocsflux/ocsflux/agents"
)

// The feed acq publishes on, and its block.
const (
	FeedName   = "false_temperatures"
	BlockName  = "temps"
	BufferTime = time.Second // the feed's buffer_time, as in Python
)

// ReportInterval is how often acq publishes the samples due since its last
// report (Python's reporting_interval).
const ReportInterval = time.Second

// Config configures a FakeDataAgent.
type Config struct {
	// Agent configures the OCS agent runtime (address, router, realm,
	// logger, ...). AgentClass may be empty (it is set to AgentClass) or
	// must be "FakeDataAgent".
	Agent agents.Config
	// Options are the agent's own options (--mode, --num-channels,
	// --sample-rate, --frame-length); start from Defaults().
	Options Options
	// Clock drives the ops' timing. nil means real time.
	Clock Clock
	// Rand draws the random walk and the noise. nil means a generator
	// seeded at random. Only acq uses it, one session at a time.
	Rand *rand.Rand
}

// Validate reports what is wrong with c (the runtime config is checked by
// agents.New).
func (c Config) Validate() error {
	var errs []error
	if c.Agent.AgentClass != "" && c.Agent.AgentClass != AgentClass {
		errs = append(errs, fmt.Errorf("agent class %q: the FakeDataAgent is %q", c.Agent.AgentClass, AgentClass))
	}
	if err := c.Options.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Agent is a FakeDataAgent: an OCS agent with the ops acq, count,
// set_heartbeat and delay_task and the feed false_temperatures.
// Create it with New and run it with Run.
type Agent struct {
	agent    *agents.Agent
	feed     *agents.Feed
	clock    Clock
	rate     float64
	channels []string

	randMu sync.Mutex // guards rng
	rng    *rand.Rand
}

// New checks cfg and returns an agent with its ops and feed registered. It
// starts nothing; call Run.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("fakedata: %w", err)
	}
	acfg := cfg.Agent
	acfg.AgentClass = AgentClass
	rt, err := agents.New(acfg)
	if err != nil {
		return nil, fmt.Errorf("fakedata: %w", err)
	}
	a := &Agent{
		agent:    rt,
		clock:    cfg.Clock,
		rate:     cfg.Options.Rate(),
		channels: ChannelNames(cfg.Options.NumChannels),
		rng:      cfg.Rand,
	}
	if a.clock == nil {
		a.clock = realClock{}
	}
	if a.rng == nil {
		a.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}

	a.feed, err = rt.RegisterFeed(agents.FeedSpec{
		Name:       FeedName,
		Record:     true,
		AggParams:  map[string]any{"frame_length": cfg.Options.FrameLength},
		BufferTime: BufferTime,
	})
	if err != nil {
		return nil, fmt.Errorf("fakedata: %w", err)
	}
	if err := a.register(cfg.Options.Mode == "acq"); err != nil {
		return nil, fmt.Errorf("fakedata: %w", err)
	}
	return a, nil
}

// register registers the ops in the Python agent's order: acq, count,
// set_heartbeat, delay_task. With startup, acq and count start at the
// first join with params {}.
func (a *Agent) register(startup bool) error {
	// delay_task needs min_privs 2 under any access policy but "none" in
	// Python; the runtime only implements "none", where it is 1.
	return errors.Join(
		a.agent.RegisterProcess(agents.OpSpec{
			Name: "acq",
			Run:  a.acq,
			Params: []agents.Param{
				{Key: "test_mode", Type: agents.Bool, Default: false, HasDefault: true},
				{Key: "degradation_period", Type: agents.Float, Default: nil, HasDefault: true},
			},
			Docstring: agents.Doc(acqDoc),
			Blocking:  true,
			Startup:   startup,
		}),
		a.agent.RegisterProcess(agents.OpSpec{
			Name:     "count",
			Run:      a.count,
			Blocking: false,
			Startup:  startup,
		}),
		a.agent.RegisterTask(agents.OpSpec{
			Name: "set_heartbeat",
			Run:  a.setHeartbeat,
			Params: []agents.Param{
				{Key: "heartbeat", Type: agents.Bool, Default: true, HasDefault: true},
			},
			Docstring: agents.Doc(setHeartbeatDoc),
			Blocking:  true,
		}),
		a.agent.RegisterTask(agents.OpSpec{
			Name: "delay_task",
			Run:  a.delayTask,
			Params: []agents.Param{
				{Key: "delay", Type: agents.Float, Default: 5.0, HasDefault: true, Check: func(v any) bool {
					f, ok := v.(float64)
					return ok && f >= 0
				}},
				{Key: "succeed", Type: agents.Bool, Default: true, HasDefault: true},
			},
			Docstring: agents.Doc(delayTaskDoc),
			Blocking:  false,
			Abortable: true,
		}),
	)
}

// Run connects the agent and keeps it on the realm until ctx is cancelled;
// see agents.Agent.Run.
func (a *Agent) Run(ctx context.Context) error { return a.agent.Run(ctx) }

// Address returns the agent's address, <address_root>.<instance-id>.
func (a *Agent) Address() string { return a.agent.Address() }

// Runtime returns the underlying OCS agent (for its session_id, extra
// subscriptions, ...). Do not register ops on it.
func (a *Agent) Runtime() *agents.Agent { return a.agent }

// Feed returns the false_temperatures feed.
func (a *Agent) Feed() *agents.Feed { return a.feed }

// ChannelNames returns the field names of n channels: channel_00,
// channel_01, ... (Python's 'channel_%02i': more digits from 100 on).
func ChannelNames(n int) []string {
	names := make([]string, max(n, 0))
	for i := range names {
		names[i] = fmt.Sprintf("channel_%02d", i)
	}
	return names
}

// now returns the op clock's time in Unix seconds.
func (a *Agent) now() float64 { return unixSeconds(a.clock.Now()) }
