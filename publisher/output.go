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
// unwritten at the stop deadline and could not be spooled; they are
// counted as ReasonStopped.
var ErrUnflushed = errors.New("points not written at stop")

// Output is one write target: it batches the line protocol the intake
// offers it and writes it to one server through one API, with its own
// HTTP client, reply classification, retries, spool, dead-letter file and
// counters. Its Run owns its goroutines: the writer (the only one that
// talks to the server), the inbox (which moves offered chunks into
// batches) and, with a spool, the spooler; they share the state under mu,
// which no other goroutine takes except Stats.
type Output struct {
	cfg      OutputConfig
	log      *slog.Logger
	http     *influxHTTP
	deadFile *deadLetterFile // nil: no dead-letter file

	inbox       chan *chunk           // intake → inbox goroutine, capacity inboxLen
	mem         atomic.Int64          // bytes offered and not yet written, spooled or dropped
	memPoints   atomic.Int64          // points of mem
	offered     atomic.Uint64         // points taken by offer
	holders     atomic.Int64          // agents whose share of mem is not zero
	index       int                   // of the output in the publisher, for chunk.shares
	wake        chan struct{}         // → Run's writer, capacity 1
	spoolWake   chan struct{}         // → the spooler, capacity 1
	connectedCh chan struct{}         // closed when the database check passed
	stopInbox   func()                // stops the inbox goroutine after its last chunk (set by run)
	spool       atomic.Pointer[Spool] // set by Run when Config.SpoolDir is set

	// Used by the Run goroutine only.
	zw         *gzip.Writer // with Config.Gzip, reused for every request
	zbuf       bytes.Buffer
	rb, rest   SpoolBatch // replay batch and what is left of it after a failure
	replayNext time.Time  // no replay before (bandwidth limit)

	mu            sync.Mutex
	open          *batch   // batch being filled by the inbox
	queue         []*batch // sealed batches, oldest first; queue[0] is sent next
	free          []*batch
	batchSeq      uint64
	busyBytes     int       // of batches being written or spooled
	inflightSince time.Time // start of the live write in flight, zero if none
	attempts      int       // consecutive failed attempts
	retryAt       time.Time // no write before (backoff)
	outage        bool      // writes fail: retrying with backoff, spooling new data
	closed        bool
	connected     bool
	acceptedAt    time.Time // when the server last accepted a request
	degraded      string
	spoolBroken   bool      // the last spool append failed: data stays in memory
	spoolRetryAt  time.Time // when to try the spool again
	spoolErr      string
	st            counters
	dead          deadCounts
	feeds         map[feedKey]*feedStat // bounded by limit
	limit         feedLimit
	other         FeedStats // of the feeds removed from feeds
	folded        uint64
	rejects       rejectLog
}

// newOutput returns an output for cfg, which has its defaults and was
// validated. It starts nothing and opens no file.
func newOutput(cfg OutputConfig, limit feedLimit, log *slog.Logger) (*Output, error) {
	h, err := newInfluxHTTP(cfg)
	if err != nil {
		return nil, err
	}
	var zw *gzip.Writer
	if cfg.Gzip {
		zw, err = gzip.NewWriterLevel(io.Discard, cfg.GzipLevel)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	}
	p := &Output{
		cfg:         cfg,
		log:         log,
		http:        h,
		deadFile:    newDeadLetterFile(cfg, log),
		inbox:       make(chan *chunk, inboxLen),
		wake:        make(chan struct{}, 1),
		spoolWake:   make(chan struct{}, 1),
		connectedCh: make(chan struct{}),
		zw:          zw,
		feeds:       make(map[feedKey]*feedStat),
		limit:       limit,
	}
	p.st.rejected = make(map[Reason]uint64)
	return p, nil
}

// Connected is closed once InfluxDB has answered the start-up database
// check (and the database exists), i.e. when the Python agent would leave
// its "connecting" phase.
func (p *Output) Connected() <-chan struct{} { return p.connectedCh }

// run opens the spool (if any), connects to the server and writes the
// pending data until ctx is cancelled. The Publisher calls it once, and
// cancels ctx only after the intake has stopped offering chunks.
//
// Start-up (unless NoCreate): SHOW DATABASES (APIv1) or the bucket lookup
// (APIv2) is retried every ConnectRetry until the server answers, then the
// database or bucket is created if missing. A cancelled ctx ends this
// phase at once with ErrNotConnected.
//
// Then a batch is sent when it holds BatchPoints points or BatchBytes
// bytes, when its oldest point has waited BatchWait (FlushInterval if
// shorter) with no write in flight, and as soon as the previous write has
// completed if data is waiting, so latency is low when the load is low and
// batches grow when InfluxDB is slower than the data.
// Spooled data (left by an earlier run, or spooled during an outage) is
// replayed oldest first, alternating with live batches, at most
// ReplayBytesPerSecond. After a failed write, writes are retried with
// capped exponential backoff; without a spool the failed batches are kept
// in memory, in order (bounded by MaxPendingBytes); with one, they and the
// data arriving meanwhile are spooled and the spool's oldest data is
// resent until InfluxDB accepts it.
//
// When ctx is cancelled Run stops replaying and writes what is in memory
// (a final flush) for at most StopTimeout, then cancels the request in
// flight. With a spool, a failed write ends the flush at once, and what is
// left is spooled; Run returns nil unless it could not be. Without one it
// retries until the deadline and returns an error wrapping ErrUnflushed
// if points were left.
func (p *Output) run(ctx context.Context) error {
	defer p.http.close()
	hard, release := stopContext(ctx, p.cfg.StopTimeout)
	defer release()
	quit, inboxDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(inboxDone)
		p.runInbox(quit)
	}()
	p.stopInbox = sync.OnceFunc(func() { close(quit); <-inboxDone })
	defer p.stopInbox()

	stopSpooler, err := p.openSpool()
	if err != nil {
		p.stopInbox()
		_ = p.finish()
		return err
	}
	p.log.Info("connecting", "url", p.http.base.Redacted(), "api", string(p.cfg.API), "database", p.cfg.Database,
		"org", p.cfg.Org, "bucket", p.cfg.Bucket, "gzip", p.cfg.Gzip, "auth", p.cfg.Credentials.Kind(),
		"spool", p.cfg.SpoolDir)
	err = p.connect(ctx)
	if err == nil {
		p.loop(ctx, hard)
	}
	p.stopInbox()
	stopSpooler()
	if ferr := p.finish(); err == nil {
		err = ferr
	}
	return err
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

// connect is the start-up phase: wait until the server answers the check
// of the database or bucket, create it if missing.
func (p *Output) connect(ctx context.Context) error {
	if p.cfg.NoCreate {
		p.setConnected()
		return nil
	}
	timer := time.NewTimer(p.cfg.ConnectRetry)
	defer timer.Stop()
	lastReason := ""
	for attempt := 1; ; attempt++ {
		created, o := p.http.ensureTarget(ctx)
		if created {
			p.log.Info("created the " + p.http.target())
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
		p.outage = true // spool what arrives meanwhile
		p.mu.Unlock()
		p.signal()
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

func (p *Output) setConnected() {
	p.mu.Lock()
	p.connected = true
	p.acceptedAt = time.Now()
	wasDegraded := p.degraded != ""
	p.degraded = ""
	p.outage = false
	p.mu.Unlock()
	close(p.connectedCh)
	if wasDegraded {
		p.log.Info("connected to InfluxDB")
	}
}

// loop sends batches until ctx is cancelled and the pending data is
// written (or, with a spool, a write failed), or hard is cancelled.
func (p *Output) loop(ctx, hard context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sp := p.spool.Load()
	now := time.Now()
	nextLog, nextSpoolLog := now.Add(p.cfg.LogInterval), now.Add(p.cfg.SpoolLogInterval)
	afterWrite, stopping, lastLive := false, false, false
	for {
		if !stopping && ctx.Err() != nil {
			stopping = true
			p.stopInbox() // every offered chunk is in a batch now
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
		if !now.Before(nextSpoolLog) {
			p.logSpool()
			nextSpoolLog = now.Add(p.cfg.SpoolLogInterval)
		}
		w := p.next(now, afterWrite, stopping, lastLive, sp != nil && sp.Unread() > 0)
		afterWrite = false
		switch {
		case w.live != nil:
			ok := p.sendLive(hard, w.live)
			afterWrite, lastLive = true, true
			if !ok && stopping && p.spoolUsable() {
				return // the rest goes to the spool
			}
			continue
		case w.replay:
			p.replay(hard, sp)
			lastLive = false
			continue
		case stopping && w.wait < 0:
			return // all written
		}
		d := min(nextLog.Sub(now), nextSpoolLog.Sub(now))
		if w.wait >= 0 && w.wait < d {
			d = w.wait
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

// work is what the writer does next: send a live batch, replay spooled
// data, or wait (wait < 0: until woken).
type work struct {
	live   *batch
	replay bool
	wait   time.Duration
}

// next decides what Run does now. unread says the spool has data not
// handed out; lastLive that the previous write was a live batch (live and
// replayed batches alternate).
func (p *Output) next(now time.Time, afterWrite, stopping, lastLive, unread bool) work {
	p.mu.Lock()
	defer p.mu.Unlock()
	spoolOK := p.spoolUsableLocked()
	if p.outage && now.Before(p.retryAt) {
		return work{wait: p.retryAt.Sub(now)}
	}
	if p.outage && spoolOK && !stopping {
		// Probe InfluxDB with the oldest spooled data. Data in memory
		// goes to the spool first (a batch in flight is not on disk).
		if unread {
			return work{replay: true}
		}
		return work{wait: -1}
	}
	wait := time.Duration(-1)
	liveReady := len(p.queue) > 0
	if !liveReady && p.open != nil && p.open.points() > 0 {
		due := p.open.first.Add(min(p.cfg.BatchWait, p.cfg.FlushInterval)).Sub(now)
		liveReady = stopping || afterWrite || due <= 0
		wait = due
	}
	replay := unread && !stopping // reading the spool works while appends fail
	if replay && !now.Before(p.replayNext) && (!liveReady || lastLive) {
		return work{replay: true}
	}
	if liveReady {
		p.sealLocked()
		p.inflightSince = now
		return work{live: p.popLocked()}
	}
	if replay {
		if rw := max(p.replayNext.Sub(now), 0); wait < 0 || rw < wait {
			wait = rw
		}
	}
	return work{wait: wait}
}

// popLocked takes the head batch off the queue to write or spool it.
func (p *Output) popLocked() *batch {
	b := p.queue[0]
	copy(p.queue, p.queue[1:])
	p.queue[len(p.queue)-1] = nil
	p.queue = p.queue[:len(p.queue)-1]
	p.busyBytes += b.size()
	return b
}

// sendLive writes a batch taken from the queue; false if a retryable
// failure left (some of) it unwritten: it is back at the queue's head.
func (p *Output) sendLive(ctx context.Context, b *batch) bool {
	d := p.deliver(ctx, b.buf, b.ends)
	now := time.Now()
	p.mu.Lock()
	p.busyBytes -= b.size()
	p.inflightSince = time.Time{}
	conflicts := p.deadLetteredLocked(d.dead, now)
	p.requestsLocked(&d)
	if !d.failed {
		p.writtenLocked(b, &d, now)
	} else {
		if d.progress() {
			p.keepLocked(b, &d)
		}
		p.queue = slices.Insert(p.queue, 0, b)
		p.failLocked(d.fail, now)
	}
	p.mu.Unlock()
	p.writeDeadLetters(d.dead, conflicts)
	return !d.failed
}

// writtenLocked accounts for a batch that is stored (except its dead
// letters).
func (p *Output) writtenLocked(b *batch, d *delivery, now time.Time) {
	p.st.written += uint64(d.stored)
	dead := deadPerFeed(d.dead)
	for _, fc := range b.feeds {
		n := max(fc.lines-dead[feedKey{fc.feed.agent, fc.feed.feed}], 0)
		fc.feed.written += uint64(n)
		if n > 0 {
			fc.feed.lastWritten = now
		}
	}
	p.releaseLocked(b)
	p.recycleLocked(b)
	p.succeededLocked()
}

func deadPerFeed(dls []DeadLetter) map[feedKey]int {
	if len(dls) == 0 {
		return nil
	}
	m := make(map[feedKey]int)
	for i := range dls {
		m[feedKey{dls[i].Agent, dls[i].Feed}]++
	}
	return m
}

// keepLocked reduces b to the lines a failed delivery left unresolved; the
// others are written or dead-lettered. Feed counts are scaled
// approximately.
func (p *Output) keepLocked(b *batch, d *delivery) {
	p.st.written += uint64(d.stored)
	oldBytes, oldPoints := b.size(), b.points()
	buf := make([]byte, 0, oldBytes)
	ends := make([]int, 0, oldPoints)
	for _, s := range d.rest {
		base := len(buf) - lineStart(b.ends, s.lo)
		buf = append(buf, b.buf[lineStart(b.ends, s.lo):b.ends[s.hi-1]]...)
		for _, e := range b.ends[s.lo:s.hi] {
			ends = append(ends, e+base)
		}
	}
	b.buf, b.ends = buf, ends
	for i := range b.feeds {
		fc := &b.feeds[i]
		fc.lines = fc.lines * len(ends) / oldPoints
		kept := fc.bytes * len(buf) / max(oldBytes, 1)
		p.releaseShare(fc.share, fc.bytes-kept)
		fc.bytes = kept
	}
	p.mem.Add(-int64(oldBytes - b.size()))
	p.memPoints.Add(-int64(oldPoints - len(ends)))
}

// succeededLocked records a write InfluxDB accepted.
func (p *Output) succeededLocked() {
	p.attempts = 0
	p.retryAt = time.Time{}
	if p.outage || !p.connected || p.degraded != "" {
		p.log.Info("writing to InfluxDB again")
	}
	p.outage = false
	p.connected = true
	p.degraded = ""
}

// failLocked schedules the retry after a failed write; while it lasts, new
// data is spooled (with a spool).
func (p *Output) failLocked(o Outcome, now time.Time) {
	p.attempts++
	p.st.failedWrites++
	wait := backoff(p.attempts, p.cfg.RetryMin, p.cfg.RetryMax, o.RetryAfter)
	p.retryAt = now.Add(wait)
	reason := o.Reason()
	if reason != p.degraded || p.attempts%30 == 0 {
		msg := "write to InfluxDB failed; keeping the data for retry"
		if p.spoolUsableLocked() {
			msg = "write to InfluxDB failed; spooling the data until it is accepted"
		}
		p.log.Warn(msg, "reason", reason, "attempt", p.attempts, "retry_in", wait.Round(time.Millisecond),
			"pending_points", p.memPoints.Load())
	}
	p.outage = true
	p.connected = false
	p.degraded = reason
	p.signal()
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

// compress gzips src with the reused writer (klauspost/compress at
// Config.GzipLevel) into the publisher's reused buffer. The result is
// valid until the next call.
func (p *Output) compress(src []byte) []byte {
	p.zbuf.Reset()
	p.zw.Reset(&p.zbuf)
	_, _ = p.zw.Write(src) // writes to a bytes.Buffer cannot fail
	_ = p.zw.Close()
	return p.zbuf.Bytes()
}

// logRejects logs the rejections aggregated since the last call.
func (p *Output) logRejects() {
	p.mu.Lock()
	rs := p.rejects.take()
	p.mu.Unlock()
	logRejects(p.log, rs)
}

// finish closes the output: chunks left in its inbox (offered after the
// inbox goroutine stopped, i.e. when run failed at start) and later ones
// are counted as ReasonStopped, and data still pending is spooled or,
// without a spool (or if spooling fails), counted as ReasonStopped. The
// spooler and the inbox goroutine must have stopped.
func (p *Output) finish() error {
	p.mu.Lock()
	p.closed = true
	for drained := false; !drained; { // chunks offered after the inbox stopped: counted as stopped
		select {
		case c := <-p.inbox:
			p.addLocked(c)
			c.release()
		default:
			drained = true
		}
	}
	p.sealLocked()
	batches := p.queue
	p.queue = nil
	p.mu.Unlock()

	sp := p.spool.Load()
	var spooled, lost int
	var spoolErr error
	for _, b := range batches {
		if sp != nil && spoolErr == nil {
			spoolErr = sp.Append(SpoolBatch{Lines: b.buf, Ends: b.ends})
		}
		p.mu.Lock()
		if sp != nil && spoolErr == nil {
			spooled += b.points()
			p.spooledLocked(b)
		} else {
			lost += b.points()
			for _, fc := range b.feeds {
				p.rejectLocked(Reject{Reason: ReasonStopped, Agent: fc.feed.agent, Feed: fc.feed.feed, Count: uint64(fc.lines)})
			}
		}
		p.releaseLocked(b)
		p.recycleLocked(b)
		p.mu.Unlock()
	}
	p.logRejects()
	if sp != nil {
		if err := sp.Close(); err != nil {
			p.log.Error("closing the spool", "err", err)
		}
		if st := sp.Stats(); spooled > 0 || st.Points > 0 {
			p.log.Info("stopped; data not yet written to InfluxDB is in the spool", "dir", p.cfg.SpoolDir,
				"points_spooled_at_stop", spooled, "points_in_spool", st.Points, "bytes", st.Bytes)
		}
	}
	if err := p.deadFile.close(); err != nil {
		p.log.Error("closing the dead-letter file", "err", err)
	}
	if lost > 0 {
		if spoolErr != nil {
			p.log.Error("stopped with data neither written to InfluxDB nor spooled", "points", lost, "err", spoolErr)
		} else {
			p.log.Warn("stopped with data not written to InfluxDB", "points", lost)
		}
		return fmt.Errorf("%w: %d", ErrUnflushed, lost)
	}
	return nil
}
