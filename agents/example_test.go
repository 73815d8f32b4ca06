package agents_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ocsflux/ocsflux/agents"
)

// A counter agent with one process, one recorded feed and a start-up op,
// run until SIGINT/SIGTERM.
func Example() {
	a, err := agents.New(agents.Config{
		AddressRoot: "observatory",
		InstanceID:  "counter1",
		AgentClass:  "CounterAgent",
		URL:         "ws://127.0.0.1:8001/ws",
		Realm:       "test_realm",
		Logger:      slog.Default(),
	})
	if err != nil {
		slog.Error("config", "err", err)
		return
	}
	feed, err := a.RegisterFeed(agents.FeedSpec{
		Name: "counts", Record: true,
		AggParams: map[string]any{"frame_length": 60}, BufferTime: time.Second,
	})
	if err != nil {
		slog.Error("feed", "err", err)
		return
	}
	err = a.RegisterProcess(agents.OpSpec{
		Name:      "count",
		Docstring: agents.Doc("count(step=1)\n\n**Process** - Count up once per second.\n"),
		Params:    []agents.Param{{Key: "step", Type: agents.Int, Default: 1, HasDefault: true}},
		Startup:   true,
		Run: func(s *agents.Session, p agents.Params) (bool, string, error) {
			defer feed.Flush()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			n := int64(0)
			for {
				select {
				case <-s.Stopping():
					return true, "Exited on request.", nil
				case t := <-tick.C:
					n += p.Int("step")
					now := float64(t.UnixNano()) / 1e9
					s.SetData(map[string]any{"counter": n, "last_update": now})
					if err := feed.PublishSample("count", now, map[string]any{"counter": n}); err != nil {
						s.Logger().Warn("publish", "err", err)
					}
				}
			}
		},
	})
	if err != nil {
		slog.Error("op", "err", err)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Run(ctx); err != nil {
		slog.Error("agent", "err", err) // e.g. "is this agent already running?"
		os.Exit(1)
	}
}
