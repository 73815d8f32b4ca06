package publisher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
)

// ErrNotConnected is returned by Run when it was stopped before InfluxDB
// answered the start-up database check (the Python agent's `record` then
// ends with "Failed to connect to InfluxDB"). Nothing was written.
var ErrNotConnected = errors.New("failed to connect to InfluxDB")

// ErrUnflushed is wrapped by the error Run returns when points were still
// unwritten at the stop deadline; they are counted as ReasonStopped.
var ErrUnflushed = errors.New("points not written at stop")

// Publisher batches encoded feed data and writes it to InfluxDB. Create it
// with New, feed it with Enqueue from any goroutine, and run it with Run,
// which owns the only goroutine that talks to InfluxDB.
type Publisher struct {
	cfg  Config
	log  *slog.Logger
	http *influxHTTP

	wake        chan struct{} // Enqueue → Run, capacity 1
	connectedCh chan struct{} // closed when the database check passed
	started     atomic.Bool

	// Used by the Run goroutine only.
	zw       *gzip.Writer
	zbuf     bytes.Buffer
	attempts int // consecutive failed attempts of the head batch

	mu            sync.Mutex
	enc           Encoder
	open          *batch   // batch being filled by Enqueue
	queue         []*batch // sealed batches, oldest first; queue[0] is sent next
	free          []*batch
	batchSeq      uint64
	pendingBytes  int
	pendingPoints int
	retryAt       time.Time // queue[0] is not sent before
	closed        bool
	connected     bool
	degraded      string
	st            counters
	feeds         map[feedKey]*feedStat
	rejects       rejectLog
}

// New checks cfg (after filling zero fields with defaults) and returns a
// Publisher. It starts nothing. logger may be nil (no logs); it is scoped
// with component=publisher.
func New(cfg Config, logger *slog.Logger) (*Publisher, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("publisher config: %w", err)
	}
	h, err := newInfluxHTTP(cfg)
	if err != nil {
		return nil, fmt.Errorf("publisher config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	zw, err := gzip.NewWriterLevel(io.Discard, cfg.GzipLevel)
	if err != nil {
		return nil, fmt.Errorf("publisher config: gzip: %w", err)
	}
	p := &Publisher{
		cfg:         cfg,
		log:         logger.With("component", "publisher"),
		http:        h,
		wake:        make(chan struct{}, 1),
		connectedCh: make(chan struct{}),
		zw:          zw,
		feeds:       make(map[feedKey]*feedStat),
	}
	p.st.rejected = make(map[Reason]uint64)
	p.enc.Protocol = cfg.Protocol
	p.enc.OnReject = p.rejectLocked // Enqueue holds p.mu while encoding
	return p, nil
}

// Connected is closed once InfluxDB has answered the start-up database
// check (and the database exists), i.e. when the Python agent would leave
// its "connecting" phase.
func (p *Publisher) Connected() <-chan struct{} { return p.connectedCh }

// Run connects to InfluxDB and writes the pending data until ctx is
// cancelled; it may be called once.
//
// Start-up: SHOW DATABASES is retried every ConnectRetry until InfluxDB
// answers, then CREATE DATABASE is sent if the database is missing. A
// cancelled ctx ends this phase at once with ErrNotConnected.
//
// Then a batch is sent when it holds BatchPoints points or BatchBytes
// bytes, when its oldest point has waited FlushInterval, and as soon as the
// previous write has completed if data is waiting, so latency is low when
// the load is low and batches grow when InfluxDB is slower than the data.
// Failed batches are kept (bounded by MaxPendingBytes) and retried in
// order with capped exponential backoff.
//
// When ctx is cancelled Run writes everything pending (a final flush,
// retrying failures) for at most StopTimeout, then cancels the request in
// flight and returns: nil when everything was written, an error wrapping
// ErrUnflushed otherwise.
func (p *Publisher) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("publisher: Run called more than once")
	}
	defer p.http.close()
	hard, release := stopContext(ctx, p.cfg.StopTimeout)
	defer release()

	p.log.Info("connecting to InfluxDB", "url", p.http.base.Redacted(), "database", p.cfg.Database,
		"protocol", string(p.cfg.Protocol), "gzip", p.cfg.Gzip, "auth", p.cfg.Credentials.Kind())
	if err := p.connect(ctx); err != nil {
		p.finish()
		return err
	}
	p.loop(ctx, hard)
	return p.finish()
}

// stopContext returns a context for I/O that stays alive after ctx is
// cancelled, for d more, and is cancelled by release.
func stopContext(ctx context.Context, d time.Duration) (context.Context, func()) {
	hard, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var mu sync.Mutex
	var t *time.Timer
	released := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !released {
			t = time.AfterFunc(d, cancel)
		}
	})
	return hard, func() {
		stop()
		mu.Lock()
		released = true
		if t != nil {
			t.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// connect is the start-up phase: wait until InfluxDB answers SHOW
// DATABASES, create the database if missing.
func (p *Publisher) connect(ctx context.Context) error {
	if p.cfg.SkipDatabaseCheck {
		p.setConnected()
		return nil
	}
	timer := time.NewTimer(p.cfg.ConnectRetry)
	defer timer.Stop()
	lastReason := ""
	for attempt := 1; ; attempt++ {
		names, o := p.http.showDatabases(ctx)
		if o.Action == ActionOK && !slices.Contains(names, p.cfg.Database) {
			o = p.http.createDatabase(ctx, p.cfg.Database)
			if o.Action == ActionOK {
				p.log.Info("created database", "database", p.cfg.Database)
			}
		}
		if o.Action == ActionOK {
			p.setConnected()
			return nil
		}
		if ctx.Err() != nil {
			return ErrNotConnected
		}
		reason := o.Reason()
		p.mu.Lock()
		p.degraded = reason
		p.mu.Unlock()
		if reason != lastReason || attempt%60 == 0 {
			msg := "cannot reach InfluxDB, retrying"
			if o.Action == ActionAuth {
				msg = "failed to authenticate to InfluxDB, check the credentials; retrying"
			}
			p.log.Warn(msg, "reason", reason, "attempt", attempt, "retry_in", p.cfg.ConnectRetry)
			lastReason = reason
		}
		timer.Reset(p.cfg.ConnectRetry)
		select {
		case <-ctx.Done():
			return ErrNotConnected
		case <-timer.C:
		}
	}
}

func (p *Publisher) setConnected() {
	p.mu.Lock()
	p.connected = true
	wasDegraded := p.degraded != ""
	p.degraded = ""
	p.mu.Unlock()
	close(p.connectedCh)
	if wasDegraded {
		p.log.Info("connected to InfluxDB")
	}
}

// loop sends batches until ctx is cancelled and the pending data is
// written, or hard is cancelled.
func (p *Publisher) loop(ctx, hard context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	nextLog := time.Now().Add(p.cfg.LogInterval)
	afterWrite, stopping := false, false
	for {
		if !stopping && ctx.Err() != nil {
			stopping = true
			p.mu.Lock()
			p.retryAt = time.Time{} // one more attempt right away
			p.mu.Unlock()
		}
		if hard.Err() != nil {
			return
		}
		now := time.Now()
		if !now.Before(nextLog) {
			p.logRejects()
			nextLog = now.Add(p.cfg.LogInterval)
		}
		b, wait := p.next(now, afterWrite, stopping)
		afterWrite = false
		if b != nil {
			p.send(hard, b)
			afterWrite = true
			continue
		}
		if stopping && wait < 0 {
			return // all written
		}
		d := nextLog.Sub(now)
		if wait >= 0 && wait < d {
			d = wait
		}
		timer.Reset(d)
		done := ctx.Done()
		if stopping {
			done = nil
		}
		select {
		case <-done:
		case <-hard.Done():
		case <-p.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// next decides what Run does now: send b, or wait (wait < 0: nothing
// pending, wait for Enqueue).
func (p *Publisher) next(now time.Time, afterWrite, stopping bool) (b *batch, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) > 0 {
		if now.Before(p.retryAt) {
			return nil, p.retryAt.Sub(now)
		}
		return p.queue[0], 0
	}
	if p.open != nil && p.open.points() > 0 {
		due := p.open.first.Add(p.cfg.FlushInterval)
		if stopping || afterWrite || !now.Before(due) {
			p.sealLocked()
			return p.queue[0], 0
		}
		return nil, due.Sub(now)
	}
	return nil, -1
}

// send writes the head batch b once and acts on the reply.
func (p *Publisher) send(ctx context.Context, b *batch) {
	body := b.buf
	if p.cfg.Gzip {
		body = p.compress(b.buf)
	}
	start := time.Now()
	r := p.http.write(ctx, body)
	end := time.Now()
	o := Classify(r, end)

	if o.Action == ActionCreateDatabase {
		co := p.http.createDatabase(ctx, p.cfg.Database)
		if co.Action != ActionOK {
			o = co
		} else {
			p.log.Warn("database was missing; created it", "database", p.cfg.Database)
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.bytesSent += uint64(len(body))
	p.st.lastLatency = end.Sub(start)
	switch o.Action {
	case ActionOK, ActionDropped:
		p.writtenLocked(b, o, end)
	case ActionSplit:
		p.attempts = 0
		p.retryAt = time.Time{}
		if n := b.points(); n > 1 {
			p.queue = slices.Insert(p.queue, 1, p.splitLocked(b))
			p.log.Info("InfluxDB refused a request as too large; split it in two", "points", n, "body_bytes", len(body))
			return
		}
		for _, fc := range b.feeds {
			p.rejectLocked(Reject{Reason: ReasonTooLarge, Agent: fc.feed.agent, Feed: fc.feed.feed, Count: 1})
		}
		p.removeHeadLocked()
	case ActionCreateDatabase:
		// Created: resend at once, unless the last attempt failed too.
		if p.attempts > 0 {
			p.failLocked(o, end)
			return
		}
		p.attempts++
		p.st.failedWrites++
	default:
		p.failLocked(o, end)
	}
}

// writtenLocked accounts for a stored head batch.
func (p *Publisher) writtenLocked(b *batch, o Outcome, now time.Time) {
	written := b.points() - o.Dropped
	if written < 0 {
		written = 0
	}
	p.st.written += uint64(written)
	p.st.batches++
	p.st.lastWrite = now
	for _, fc := range b.feeds {
		fc.feed.written += uint64(fc.lines)
		fc.feed.lastWritten = now
	}
	var named uint64
	for _, r := range o.Rejects {
		p.rejectLocked(r)
		if isPointReason(r.Reason) {
			named += r.Count
		}
	}
	if d := uint64(o.Dropped); d > named {
		p.rejectLocked(Reject{Reason: ReasonServerDropped, Count: d - named})
	}
	if o.Dropped > 0 {
		// The written count per feed is approximate: the server does not
		// say which feeds its dropped points belonged to.
		p.log.Debug("InfluxDB refused part of a batch", "dropped", o.Dropped, "message", o.Message)
	}
	p.removeHeadLocked()
	p.attempts = 0
	p.retryAt = time.Time{}
	if !p.connected || p.degraded != "" {
		p.log.Info("writing to InfluxDB again")
	}
	p.connected = true
	p.degraded = ""
}

// failLocked keeps the head batch and schedules its retry.
func (p *Publisher) failLocked(o Outcome, now time.Time) {
	p.attempts++
	p.st.failedWrites++
	wait := backoff(p.attempts, p.cfg.RetryMin, p.cfg.RetryMax, o.RetryAfter)
	p.retryAt = now.Add(wait)
	reason := o.Reason()
	if reason != p.degraded || p.attempts%30 == 0 {
		p.log.Warn("write to InfluxDB failed; keeping the data for retry", "reason", reason,
			"attempt", p.attempts, "retry_in", wait.Round(time.Millisecond),
			"pending_points", p.pendingPoints)
	}
	p.connected = false
	p.degraded = reason
}

// backoff is the wait before attempt+1: RetryMin doubled per failed
// attempt up to RetryMax, ±20% jitter, at least the server's Retry-After.
func backoff(attempt int, lo, hi, retryAfter time.Duration) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return max(d, min(retryAfter, MaxRetryAfter))
}

func (p *Publisher) removeHeadLocked() {
	b := p.queue[0]
	copy(p.queue, p.queue[1:])
	p.queue[len(p.queue)-1] = nil
	p.queue = p.queue[:len(p.queue)-1]
	p.pendingBytes -= len(b.buf)
	p.pendingPoints -= b.points()
	p.recycleLocked(b)
}

// compress gzips src into the publisher's reused buffer. The result is
// valid until the next call.
func (p *Publisher) compress(src []byte) []byte {
	p.zbuf.Reset()
	p.zw.Reset(&p.zbuf)
	_, _ = p.zw.Write(src) // writes to a bytes.Buffer cannot fail
	_ = p.zw.Close()
	return p.zbuf.Bytes()
}

// logRejects logs the rejections aggregated since the last call.
func (p *Publisher) logRejects() {
	p.mu.Lock()
	rs := p.rejects.take()
	p.mu.Unlock()
	logRejects(p.log, rs)
}

// finish closes the publisher: later Enqueue calls are refused, and data
// still pending is counted as ReasonStopped. Spool hook: this is where a
// spool would take over the unwritten batches (whole lines, in order).
func (p *Publisher) finish() error {
	p.mu.Lock()
	p.closed = true
	p.sealLocked()
	lost := p.pendingPoints
	for _, b := range p.queue {
		for _, fc := range b.feeds {
			p.rejectLocked(Reject{Reason: ReasonStopped, Agent: fc.feed.agent, Feed: fc.feed.feed, Count: uint64(fc.lines)})
		}
		p.recycleLocked(b)
	}
	p.queue = nil
	p.pendingBytes, p.pendingPoints = 0, 0
	p.mu.Unlock()
	p.logRejects()
	if lost > 0 {
		p.log.Warn("stopped with data not written to InfluxDB", "points", lost)
		return fmt.Errorf("%w: %d", ErrUnflushed, lost)
	}
	return nil
}
