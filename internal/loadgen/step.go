package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Settling: the count of a step's points is queried every countInterval
// after publishing; the wait ends when every published point is found,
// when the count has not grown for quietPeriod, or after Settle.
const (
	countInterval = 250 * time.Millisecond
	quietPeriod   = 3 * time.Second
)

// publisherOutcome is what one agent published in a step.
type publisherOutcome struct {
	messages int64
	last     time.Time // when its last publish returned
	err      error
}

// runStep publishes at rate for StepDuration, settles, and measures.
func (b *Bench) runStep(ctx context.Context, ix *influx, agents []*simAgent, step int, rate int64) (Step, error) {
	cfg := &b.cfg
	feed := StepFeed(rate, step)
	st := Step{Step: step, TargetRate: rate, Feed: feed}
	ms := make([]*markers, len(agents))
	for k := range ms {
		ms[k] = &markers{}
	}

	var cpu0, cpu1, cpu2 time.Duration
	var cpuErr error
	readCPU := func(d *time.Duration) {
		if cfg.PublisherPID == 0 || cpuErr != nil {
			return
		}
		*d, cpuErr = procCPU(cfg.PublisherPID)
	}
	var drops0 uint64
	if cfg.RouterDrops != nil {
		drops0 = cfg.RouterDrops()
	}
	stepCtx, endStep := context.WithCancel(ctx)
	defer endStep()
	var rss *rssSampler
	if cfg.PublisherPID != 0 {
		rss = sampleRSS(stepCtx, cfg.PublisherPID)
	}

	readCPU(&cpu0)
	start := time.Now()
	since := start.Add(-time.Second).UnixNano() // no timestamp of the step is older
	pollCtx, stopPoll := context.WithCancel(stepCtx)
	p := &poller{b: b, ix: ix, feed: feed, ms: ms, after: since, index: agentIndex(agents)}
	pollDone := make(chan struct{})
	go func() { defer close(pollDone); p.run(pollCtx) }()

	outcomes := make([]publisherOutcome, len(agents))
	var wg sync.WaitGroup
	for k, a := range agents {
		wg.Go(func() { outcomes[k] = b.publishLoop(stepCtx, a, rate, feed, ms[k], start) })
	}
	wg.Wait()
	lastPublish := start.Add(cfg.StepDuration)
	for _, o := range outcomes {
		if o.err != nil {
			stopPoll()
			<-pollDone
			return st, o.err
		}
		st.Messages += o.messages
		if o.last.After(lastPublish) {
			lastPublish = o.last
		}
	}
	readCPU(&cpu1)
	published := st.Messages * int64(cfg.Samples)
	st.PointsPublished = published
	window := lastPublish.Sub(start)
	st.PublishS = window.Seconds()
	st.AchievedRate = float64(published) / window.Seconds()
	if due := MessagesDue(rate, cfg.Samples, cfg.StepDuration); st.Messages < due {
		st.Notes = append(st.Notes, fmt.Sprintf("the bench fell behind: it published %d of the %d messages due (%.0f%%)",
			st.Messages, due, 100*float64(st.Messages)/float64(due)))
	}

	settleStart := time.Now()
	found, countErrs, err := b.settle(ctx, ix, feed, published, since)
	st.SettleS = time.Since(settleStart).Seconds()
	stopPoll()
	<-pollDone
	if err != nil {
		return st, err
	}
	if countErrs > 0 {
		st.Notes = append(st.Notes, fmt.Sprintf("%d count queries failed while settling", countErrs))
	}
	p.once(ctx) // see what the last count saw, for the latency figures
	readCPU(&cpu2)
	endStep()

	st.PointsFound = found
	if published > 0 {
		st.DeliveryPct = 100 * float64(found) / float64(published)
	}
	st.Latency = p.latency()
	if st.Latency.MessagesUnseen > 0 {
		st.Notes = append(st.Notes, fmt.Sprintf("%d messages were never seen by the latency poll (not in the latency figures)",
			st.Latency.MessagesUnseen))
	}
	if p.errors > 0 {
		st.Notes = append(st.Notes, fmt.Sprintf("%d latency polls failed (first: %v)", p.errors, p.firstErr))
	}
	if cfg.PublisherPID != 0 {
		if cpuErr != nil {
			st.Notes = append(st.Notes, "cpu: "+cpuErr.Error())
		} else {
			st.CPUPercent = ptr(100 * (cpu1 - cpu0).Seconds() / window.Seconds())
			if found > 0 {
				st.CPUUsPerPoint = ptr(float64((cpu2 - cpu0).Microseconds()) / float64(found))
			}
		}
		n, err := rss.wait()
		if err != nil {
			st.Notes = append(st.Notes, "rss: "+err.Error())
		} else {
			st.RSSMaxMiB = ptr(float64(n) / (1 << 20))
		}
	}
	if cfg.RouterDrops != nil {
		st.RouterDroppedEvents = ptr(cfg.RouterDrops() - drops0)
	}
	return st, nil
}

// lateLimit is how long after the end of a step its last batch may still
// be publishing before it is cut short (the bench fell behind): a tenth of
// the step, at least ten ticks.
func (c *Config) lateLimit() time.Duration { return max(c.StepDuration/10, 10*c.Tick) }

// publishLoop publishes agent a's share of the step's messages, a batch
// per tick, until the step's duration has passed. A batch still running
// lateLimit after the end is cut short.
func (b *Bench) publishLoop(ctx context.Context, a *simAgent, rate int64, feed string, m *markers, start time.Time) publisherOutcome {
	cfg := &b.cfg
	info := FeedInfo(a.address, feed, a.sessionID)
	end := start.Add(cfg.StepDuration)
	hardEnd := end.Add(cfg.lateLimit())
	tick := time.NewTicker(cfg.Tick)
	defer tick.Stop()
	var out publisherOutcome
	for {
		elapsed := time.Since(start)
		final := elapsed >= cfg.StepDuration
		if final {
			elapsed = cfg.StepDuration
		}
		due := AgentShare(MessagesDue(rate, cfg.Samples, elapsed), a.k, cfg.Agents)
		for out.messages < due {
			sent, newest, err := a.publish(feed, info, cfg.Samples)
			if err != nil {
				out.err = err
				return out
			}
			m.add(newest, sent)
			out.messages++
			out.last = time.Now()
			if out.last.After(hardEnd) {
				return out
			}
		}
		if final {
			return out
		}
		select {
		case <-ctx.Done():
			out.err = ctx.Err()
			return out
		case <-tick.C:
		}
	}
}

// settle queries the step's count until every published point is found,
// the count stops growing for quietPeriod, or Settle has passed. It
// returns the last count and how many count queries failed.
func (b *Bench) settle(ctx context.Context, ix *influx, feed string, published, since int64) (int64, int, error) {
	deadline := time.Now().Add(b.cfg.Settle)
	lastGrowth := time.Now()
	var found int64 = -1
	failures := 0
	tick := time.NewTicker(countInterval)
	defer tick.Stop()
	for {
		counts, err := ix.countPerMeasurement(ctx, b.re, b.field0, feed, since)
		now := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return max(found, 0), failures, ctx.Err()
			}
			failures++
			b.log.Warn("count query failed", "feed", feed, "error", err)
		} else {
			var n int64
			for _, c := range counts {
				n += c
			}
			if n > found {
				found, lastGrowth = n, now
			}
			if found >= published {
				return found, failures, nil
			}
		}
		if !now.Before(deadline) || now.Sub(lastGrowth) >= quietPeriod {
			return max(found, 0), failures, nil
		}
		select {
		case <-ctx.Done():
			return max(found, 0), failures, ctx.Err()
		case <-tick.C:
		}
	}
}

func agentIndex(agents []*simAgent) map[string]int {
	ix := make(map[string]int, len(agents))
	for k, a := range agents {
		ix[a.address] = k
	}
	return ix
}

// poller asks InfluxDB every Poll for the newest timestamp per
// measurement of the step's feed and resolves the agents' markers.
type poller struct {
	b     *Bench
	ix    *influx
	feed  string
	ms    []*markers
	index map[string]int

	// Only the poller's goroutine (then, after it stopped, runStep)
	// touches the fields below.
	after    int64 // ns: only newer points are asked for
	newest   []int64
	polls    int
	errors   int
	firstErr error
	rtt      time.Duration
}

func (p *poller) run(ctx context.Context) {
	tick := time.NewTicker(p.b.cfg.Poll)
	defer tick.Stop()
	for {
		p.once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// once polls once.
func (p *poller) once(ctx context.Context) {
	if p.newest == nil {
		p.newest = make([]int64, len(p.ms))
	}
	t0 := time.Now()
	res, err := p.ix.newestPerMeasurement(ctx, p.b.re, p.b.field0, p.feed, p.after)
	at := time.Now()
	if err != nil {
		if ctx.Err() == nil {
			p.errors++
			if p.firstErr == nil {
				p.firstErr = err
			}
		}
		return
	}
	p.polls++
	p.rtt += at.Sub(t0)
	for name, ns := range res {
		k, ok := p.index[name]
		if !ok {
			continue
		}
		p.newest[k] = max(p.newest[k], ns)
		p.ms[k].seen(nsToUs(ns), at)
	}
	// Ask next time only for points newer than the oldest agent's newest.
	lo := p.newest[0]
	for _, n := range p.newest {
		lo = min(lo, n)
	}
	p.after = max(p.after, lo)
}

// nsToUs rounds an InfluxDB timestamp (ns) to the µs the bench wrote: the
// publisher computes int(t·1e9) (line protocol, within a few hundred ns of
// the µs) or rounds to µs (json protocol).
func nsToUs(ns int64) int64 { return (ns + 500) / 1000 }

func (p *poller) latency() Latency {
	s := summarize(p.ms)
	l := Latency{MessagesSeen: s.Seen, MessagesUnseen: s.Unseen, Polls: p.polls, PollErrors: p.errors}
	if p.polls > 0 {
		l.MeanQueryMS = ms(p.rtt / time.Duration(p.polls))
	}
	l.ResolutionMS = ms(p.b.cfg.Poll) + l.MeanQueryMS
	if s.Seen > 0 {
		l.P50MS, l.P99MS, l.MaxMS = ptr(ms(s.P50)), ptr(ms(s.P99)), ptr(ms(s.Max))
	}
	return l
}
