package publisher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
)

// Publisher is the pipeline from feed messages to the databases: one
// intake, which filters and encodes each message once, and one or more
// outputs, each writing to its own server. Create it with New, feed it
// with Enqueue, and run it with Run.
type Publisher struct {
	cfg       Config
	log       *slog.Logger
	in        *intake
	outputs   []*Output
	connected chan struct{} // closed when the first output has connected
	started   atomic.Bool
}

// New checks cfg (after filling zero fields with defaults) and returns a
// Publisher. It starts nothing and opens no file. logger may be nil (no
// logs); it is scoped with component=publisher (and output=<name> per
// output when there are several).
func New(cfg Config, logger *slog.Logger) (*Publisher, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("publisher config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "publisher")
	all := cfg.all()
	outputs := make([]*Output, len(all))
	for i, oc := range all {
		olog := log
		if len(all) > 1 {
			olog = log.With("output", oc.Name)
		}
		o, err := newOutput(oc, cfg.feedLimit(), olog)
		if err != nil {
			if i > 0 {
				err = fmt.Errorf("output %q: %w", oc.Name, err)
			}
			return nil, fmt.Errorf("publisher config: %w", err)
		}
		o.index = i
		outputs[i] = o
	}
	return &Publisher{
		cfg:       cfg,
		log:       log,
		in:        newIntake(cfg.Protocol, cfg.Filter, cfg.feedLimit(), outputs),
		outputs:   outputs,
		connected: make(chan struct{}),
	}, nil
}

// Enqueue encodes the samples of m and hands them to every output. It
// never blocks on a server or the disk and takes no output's lock: it may
// be called from a WAMP event handler. m is read during the call only.
//
// Messages of feeds that are not recorded (see Recordable) are skipped,
// and those Config.Filter leaves out are counted as excluded. Values
// InfluxDB would refuse are dropped and counted (see Reason). When an
// output holds Config.MaxPendingBytes already (without a spool, or when
// the spool cannot keep up), or after Run has returned, the points are
// dropped for it and counted (ReasonQueueFull, ReasonStopped), and Enqueue
// returns false; otherwise true.
//
// Enqueue may be called before Run: the data is written once the server
// answers (the Python agent keeps what arrives while it connects).
func (p *Publisher) Enqueue(m *feeds.Message) bool { return p.in.enqueue(m) }

// Connected is closed once an output has passed its start-up check (the
// database or bucket exists), i.e. when the Python agent would leave its
// "connecting" phase.
func (p *Publisher) Connected() <-chan struct{} { return p.connected }

// Run runs every output until ctx is cancelled; it may be called once.
// See the package documentation for what each output does. When ctx is
// cancelled the intake stops first (later Enqueue calls count
// ReasonStopped), then each output writes what it holds, within
// StopTimeout, and spools the rest.
//
// Run returns ErrNotConnected when no output had connected, an error
// wrapping ErrUnflushed when points could be neither written nor
// spooled, and an output's start-up error (e.g. an unusable spool
// directory) at once, after stopping the others.
func (p *Publisher) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("publisher: Run called more than once")
	}
	outCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	errs := make([]error, len(p.outputs))
	early := make(chan error, len(p.outputs))
	var wg sync.WaitGroup
	var once sync.Once
	for i, o := range p.outputs {
		wg.Go(func() {
			errs[i] = o.run(outCtx)
			if outCtx.Err() == nil {
				early <- errs[i] // ended before the stop: start-up failed
			}
		})
		wg.Go(func() {
			select {
			case <-o.connectedCh:
				once.Do(func() { close(p.connected) })
			case <-outCtx.Done():
			}
		})
	}
	tick := time.NewTicker(p.cfg.LogInterval)
	defer tick.Stop()
	var fatal error
	for running := true; running; {
		select {
		case now := <-tick.C:
			logRejects(p.log, p.in.takeRejects())
			p.in.expireFeeds(now)
			for _, o := range p.outputs {
				o.expireFeeds(now)
			}
		case <-ctx.Done():
			running = false
		case fatal = <-early:
			running = false
		}
	}
	p.in.close()
	cancel()
	wg.Wait()
	logRejects(p.log, p.in.takeRejects())
	if fatal != nil {
		return fatal
	}
	connected := false
	var out []error
	for _, err := range errs {
		switch {
		case err == nil:
			connected = true
		case errors.Is(err, ErrNotConnected):
		default:
			connected = true
			out = append(out, err)
		}
	}
	if !connected {
		return ErrNotConnected
	}
	return errors.Join(out...)
}

// Stats returns a snapshot of the counters: those of the first output,
// with the intake's (received, skipped, excluded, the encoder's
// rejections) merged in, and, when there are several outputs, each
// output's own in Outputs. Connected is true when an output is; Degraded
// names every degraded output. Safe to call at any time from any
// goroutine.
func (p *Publisher) Stats() Stats {
	is := p.in.stats()
	per := make([]OutputStats, len(p.outputs))
	for i, o := range p.outputs {
		st := o.Stats()
		st.Rejected[ReasonQueueFull] += is.full[i]
		st.RejectedPoints += is.full[i]
		if st.Rejected[ReasonQueueFull] == 0 {
			delete(st.Rejected, ReasonQueueFull)
		}
		per[i] = OutputStats{Name: o.cfg.Name, Target: o.http.base.Redacted() + " " + o.http.target(), Stats: st}
	}
	s := per[0].Stats
	s.Received, s.Skipped, s.Excluded = is.received, is.skipped, is.excluded
	s.Feeds = mergeFeeds(is.feeds, s.Feeds)
	s.OtherFeeds.Received, s.FoldedFeeds = is.other, is.folded
	for r, n := range is.rejected {
		s.Rejected[r] += n
	}
	s.RejectedPoints += is.points
	if len(per) == 1 {
		s.Degraded = degradedReason(per[0].Stats, false)
		return s
	}
	var reasons []string
	for _, o := range per {
		s.Connected = s.Connected || o.Connected
		if r := degradedReason(o.Stats, true); r != "" {
			reasons = append(reasons, o.Name+": "+r)
		}
	}
	s.Degraded = strings.Join(reasons, "; ")
	s.Outputs = per
	return s
}

// degradedReason says why an output is degraded: its writes fail, its
// spool cannot be written, or (with notConnected) it has not connected.
func degradedReason(st Stats, notConnected bool) string {
	r := st.Degraded
	if r == "" && notConnected && !st.Connected {
		r = "not connected"
	}
	if st.SpoolError != "" {
		if r != "" {
			r += "; "
		}
		r += "the spool cannot be written (data is kept in memory): " + st.SpoolError
	}
	return r
}

// mergeFeeds returns the per-feed counters: received from the intake,
// written and spooled from the output's.
func mergeFeeds(received map[feedKey]uint64, out []FeedStats) []FeedStats {
	byKey := make(map[feedKey]FeedStats, len(out))
	for _, f := range out {
		byKey[feedKey{f.Agent, f.Feed}] = f
	}
	feeds := make([]FeedStats, 0, len(received))
	for k, n := range received {
		f := byKey[k]
		f.Agent, f.Feed, f.Received = k.agent, k.feed, n
		feeds = append(feeds, f)
	}
	slices.SortFunc(feeds, func(a, b FeedStats) int {
		return cmp.Or(strings.Compare(a.Agent, b.Agent), strings.Compare(a.Feed, b.Feed))
	})
	return feeds
}
