package agents_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"

	"github.com/ocsflux/ocsflux/agents"
)

// recordDoc is the InfluxDBAgent record docstring as captured
// (reference-output.md §1).
const recordDoc = "record()\n\n        **Process** - This process will create an Publisher instance, which\n        will collect and write provider data to disk as long as this process is\n        running.\n\n        Parameters:\n            test_mode (bool, optional): Run the record Process loop only once.\n                This is meant only for testing. Default is False.\n\n        Notes:\n            An example of the session data::\n\n                >>> response.session['data']\n                {'connected': True,\n                 'last_updated': 1774389203.53926}\n\n        "

// fixture is a running agent with ops that mirror the reference agents,
// controlled by gates, plus a test client.
type fixture struct {
	tr   *testRouter
	ra   *runningAgent
	c    *client.Client
	addr string

	recordRelease *gate // record returns after a stop once this is open
	flagRelease   *gate // set_flag returns once this is open
	degrade       *gate // data sets degraded once this is open
}

// newFixture starts a router and an agent with instance id "fixture"
// (registration order: record, delay_task, set_flag, crash, data, raw).
// mod may adjust the config and register more before Run.
func newFixture(t *testing.T, mod func(cfg *agents.Config), extra func(a *agents.Agent)) *fixture {
	t.Helper()
	f := &fixture{recordRelease: newGate(), flagRelease: newGate(), degrade: newGate()}
	f.tr = startRouter(t, "127.0.0.1:0")
	cfg := agentCfg(f.tr, "fixture")
	if mod != nil {
		mod(&cfg)
	}
	a, err := agents.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.addr = a.Address()
	must(t, a.RegisterProcess(agents.OpSpec{
		Name:      "record",
		Docstring: agents.Doc(recordDoc),
		Blocking:  true,
		Params:    []agents.Param{{Key: "test_mode", Type: agents.Bool, Default: false, HasDefault: true}},
		Run: func(s *agents.Session, p agents.Params) (bool, string, error) {
			if p.Bool("test_mode") {
				s.SetData(map[string]any{"connected": true, "last_updated": nowFloat()})
				return true, "Aggregation has ended", nil
			}
			s.SetData(map[string]any{"connected": true, "last_updated": nowFloat()})
			<-s.Stopping()
			select {
			case <-f.recordRelease.ch:
			case <-s.Context().Done():
			}
			return true, "Aggregation has ended", nil
		},
	}))
	must(t, a.RegisterTask(agents.OpSpec{
		Name:      "delay_task",
		Abortable: true,
		Params: []agents.Param{
			{Key: "delay", Type: agents.Float, Default: 5, HasDefault: true, Check: func(v any) bool { return v.(float64) >= 0 }},
			{Key: "succeed", Type: agents.Bool, Default: true, HasDefault: true},
		},
		Run: func(s *agents.Session, p agents.Params) (bool, string, error) {
			start := time.Now()
			delay := p.Float("delay")
			s.SetData(map[string]any{"requested_delay": delay, "delay_so_far": 0.0})
			select {
			case <-time.After(time.Duration(delay * float64(time.Second))):
				return p.Bool("succeed"), fmt.Sprintf("Exited after %.1f seconds", time.Since(start).Seconds()), nil
			case <-s.Stopping():
				return false, fmt.Sprintf("Aborted after %.1f seconds", time.Since(start).Seconds()), nil
			}
		},
	}))
	must(t, a.RegisterTask(agents.OpSpec{
		Name:     "set_flag",
		Blocking: true,
		Params:   []agents.Param{{Key: "flag", Type: agents.Bool, Default: true, HasDefault: true}},
		Run: func(s *agents.Session, p agents.Params) (bool, string, error) {
			select {
			case <-f.flagRelease.ch:
			case <-s.Context().Done():
			}
			return true, fmt.Sprintf("Set flag: %v", p.Bool("flag")), nil
		},
	}))
	must(t, a.RegisterTask(agents.OpSpec{
		Name:   "crash",
		Params: []agents.Param{{Key: "kind", Type: agents.Str, Choices: []any{"error", "panic", "param"}}},
		Run: func(s *agents.Session, p agents.Params) (bool, string, error) {
			switch p.String("kind") {
			case "error":
				return false, "", errors.New("disk on fire")
			case "panic":
				panic("boom")
			}
			return false, "", &agents.ParamError{Msg: "Param 'x' is required and must not be None"}
		},
	}))
	must(t, a.RegisterProcess(agents.OpSpec{
		Name:   "data",
		Params: []agents.Param{{Key: "x", Type: agents.Float, HasDefault: true}},
		Run: func(s *agents.Session, p agents.Params) (bool, string, error) {
			s.SetData(map[string]any{
				"nan": math.NaN(), "inf": math.Inf(1), "ninf": math.Inf(-1),
				"list":   []float64{1, math.NaN(), 2.5},
				"nested": map[string]any{"v": math.NaN(), "i": 3, "s": "x"},
				"x":      p["x"],
			})
			s.AddMessage("data set")
			select {
			case <-f.degrade.ch:
				s.SetDegraded(true)
			case <-s.Stopping():
				return true, "stopped", nil
			}
			<-s.Stopping()
			return true, "stopped", nil
		},
	}))
	must(t, a.RegisterProcess(agents.OpSpec{
		Name: "raw",
		Run: func(s *agents.Session, p agents.Params) (bool, string, error) {
			s.SetData(map[string]any{"params": map[string]any(p), "nil": p == nil})
			return true, "raw done", nil
		},
	}))
	if extra != nil {
		extra(a)
	}
	f.ra = run(t, a)
	// Let every gated op finish at cleanup (before Run is cancelled).
	t.Cleanup(func() { f.recordRelease.open(); f.flagRelease.open(); f.degrade.open() })
	f.c = dialClient(t, f.tr, 0)
	waitRegistered(t, f.c, f.addr, 10*time.Second)
	return f
}

// ops calls the agent's .ops procedure.
func (f *fixture) ops(t *testing.T, args []any, kwargs map[string]any) opsReply {
	t.Helper()
	return ops(t, f.c, f.addr, args, kwargs)
}

// waitStatus waits until op's session has the given status.
func (f *fixture) waitStatus(t *testing.T, op, status string) map[string]any {
	t.Helper()
	var sess map[string]any
	waitFor(t, 5*time.Second, op+" "+status, func() bool {
		r := f.ops(t, []any{"status", op}, nil)
		sess = r.sess
		return r.sess["status"] == status
	})
	return sess
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func nowFloat() float64 { return float64(time.Now().UnixNano()) / 1e9 }
