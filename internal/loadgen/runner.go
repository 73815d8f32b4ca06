package loadgen

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Bench runs the load steps of a Config. Create it with New.
type Bench struct {
	cfg    Config
	log    *slog.Logger
	fields []string // float field names
	re     string   // InfluxQL regex of the run's measurements
	field0 string   // the field counted and polled
}

// New checks cfg, fills in the run id and returns a Bench. It starts
// nothing and connects nowhere.
func New(cfg Config) (*Bench, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RunID == "" {
		cfg.RunID = newRunID()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b := &Bench{cfg: cfg, log: cfg.Logger.With("component", "bench")}
	for i := range cfg.Fields {
		b.fields = append(b.fields, FieldName(i, cfg.Fields))
	}
	b.field0 = b.fields[0]
	b.re = measurementRegex(cfg.AddressRoot, cfg.RunID)
	return b, nil
}

// RunID is the run's id (agents are bench-<RunID>-<k>).
func (b *Bench) RunID() string { return b.cfg.RunID }

// newRunID is 8 random lowercase hex digits.
func newRunID() string {
	var buf [4]byte
	_, _ = rand.Read(buf[:])
	return fmt.Sprintf("%x", buf)
}

// SetupError is a failure before the first step: the router, InfluxDB or
// the publisher's process cannot be reached, or no data arrives.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

func setupErr(err error) error { return &SetupError{Err: err} }

// Run connects the agents, waits for the publisher to write their probe
// messages, runs the steps and returns the report. On cancellation it
// returns the steps completed so far with the context's error.
func (b *Bench) Run(ctx context.Context) (*Report, error) {
	cfg := &b.cfg
	rep := b.newReport()
	ix := newInflux(cfg)
	defer ix.close()
	if err := ix.ping(ctx); err != nil {
		return nil, setupErr(err)
	}
	if cfg.PublisherPID != 0 {
		if _, err := procCPU(cfg.PublisherPID); err != nil {
			return nil, setupErr(fmt.Errorf("--publisher-pid: %w", err))
		}
	}
	agents, err := b.dialAll(ctx)
	if err != nil {
		return nil, setupErr(err)
	}
	defer func() {
		for _, a := range agents {
			a.close()
		}
	}()
	b.log.Info("agents connected", "agents", len(agents), "run_id", cfg.RunID)
	if err := b.warmup(ctx, ix, agents); err != nil {
		return nil, setupErr(err)
	}
	for i, rate := range cfg.Rates {
		st, err := b.runStep(ctx, ix, agents, i+1, rate)
		if err != nil {
			if ctx.Err() != nil {
				return rep, fmt.Errorf("interrupted during step %d of %d: %w", i+1, len(cfg.Rates), err)
			}
			return rep, fmt.Errorf("step %d: %w", i+1, err)
		}
		rep.Steps = append(rep.Steps, st)
		b.log.Info("step done", "step", st.Step, "rate", rate, "published", st.PointsPublished,
			"found", st.PointsFound, "achieved_rate", fmt.Sprintf("%.0f", st.AchievedRate))
	}
	return rep, nil
}

func (b *Bench) newReport() *Report {
	c := &b.cfg
	fpp := c.Fields
	if c.Mix {
		fpp += 3
	}
	rep := &Report{
		RunID:   c.RunID,
		Started: time.Now().UTC().Truncate(time.Millisecond),
		Params: Params{
			Agents: c.Agents, SamplesPerMessage: c.Samples, FloatFields: c.Fields, Mix: c.Mix,
			FieldsPerPoint: fpp, Rates: c.Rates,
			StepDurationS: c.StepDuration.Seconds(), SettleMaxS: c.Settle.Seconds(),
			PollMS: ms(c.Poll), TickMS: ms(c.Tick), Serialization: "msgpack",
			Router: c.RouterURL, Realm: c.Realm, AddressRoot: c.AddressRoot,
			Measurements: AgentAddress(c.AddressRoot, c.RunID, 0) + " .. " + AgentAddress(c.AddressRoot, c.RunID, c.Agents-1),
			InfluxURL:    c.InfluxURL, Database: c.Database,
		},
		LatencyMethod: "Each sample's timestamp is its message's publish time; the newest timestamp of " +
			"field " + b.field0 + " per measurement is polled with SELECT last(); a message counts as " +
			"queryable when the reply of the first poll that reaches its newest timestamp arrives.",
		Steps: []Step{},
	}
	if c.PublisherPID != 0 {
		rep.Params.PublisherPID = ptr(c.PublisherPID)
		rep.CPUMethod = fmt.Sprintf("utime+stime of /proc/%d/stat (resolution %s of CPU): cpu %% over the "+
			"publishing window, cpu us/pt from the step's start to the end of settling per point found; "+
			"rss = largest VmRSS of /proc/%d/status, sampled every %s", c.PublisherPID, ClockTick, c.PublisherPID, rssInterval)
	}
	return rep
}

// dialAll connects every agent, in parallel.
func (b *Bench) dialAll(ctx context.Context) ([]*simAgent, error) {
	agents := make([]*simAgent, b.cfg.Agents)
	errs := make([]error, b.cfg.Agents)
	var wg sync.WaitGroup
	for k := range agents {
		wg.Go(func() { agents[k], errs[k] = dialAgent(ctx, &b.cfg, k, b.fields, b.log) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, a := range agents {
			if a != nil {
				a.close()
			}
		}
		if first := firstErr(errs); first != nil {
			return nil, first // the same failure K times says nothing more
		}
		return nil, err
	}
	return agents, nil
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// warmupInterval is how often, during warm-up, every agent publishes a
// probe and InfluxDB is asked whether the probes arrived.
const warmupInterval = 250 * time.Millisecond

// warmup publishes a one-sample probe from every agent every
// warmupInterval until InfluxDB holds a probe of each (the publisher is
// subscribed, recording and writing), or Warmup has passed.
func (b *Bench) warmup(ctx context.Context, ix *influx, agents []*simAgent) error {
	cfg := &b.cfg
	start := time.Now()
	since := start.Add(-time.Second).UnixNano()
	deadline := start.Add(cfg.Warmup)
	tick := time.NewTicker(warmupInterval)
	defer tick.Stop()
	var lastErr error
	for {
		for _, a := range agents {
			if _, _, err := a.publish(WarmupFeed, FeedInfo(a.address, WarmupFeed, a.sessionID), 1); err != nil {
				return err
			}
		}
		counts, err := ix.countPerMeasurement(ctx, b.re, b.field0, WarmupFeed, since)
		if err != nil {
			lastErr = err
			if strings.Contains(err.Error(), "INFLUXDB_USERNAME") {
				return err
			}
		} else {
			n := 0
			for _, a := range agents {
				if counts[a.address] > 0 {
					n++
				}
			}
			if n == len(agents) {
				b.log.Info("publisher is writing", "after", time.Since(start).Round(time.Millisecond))
				return nil
			}
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("no bench data reached InfluxDB %s database %s within --warmup %s: is an OCS "+
				"InfluxDB publisher recording on router %s (realm %s, address root %s) into that database?",
				cfg.InfluxURL, cfg.Database, cfg.Warmup, cfg.RouterURL, cfg.Realm, cfg.AddressRoot)
			if lastErr != nil {
				msg += " (last query error: " + lastErr.Error() + ")"
			}
			return errors.New(msg)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
