package publisher

import (
	"context"
	"time"
)

// replay writes the oldest spooled data: records merged up to BatchPoints
// and BatchBytes, sent like a live batch (split on 413, poison lines
// dead-lettered). Written records are acknowledged, which deletes a
// segment once all its records are; after a retryable failure they are
// released (sent again later), or, if part of them was resolved, what is
// left is spooled again and they are acknowledged. Replays are spaced so
// that they stay under ReplayBytesPerSecond. Only the Run goroutine calls
// it.
func (p *Output) replay(ctx context.Context, sp *Spool) {
	b := &p.rb
	b.Reset()
	for {
		ok, err := sp.Next(b, p.cfg.BatchPoints, p.cfg.BatchBytes)
		if err != nil {
			p.log.Error("cannot read the spool", "dir", p.cfg.SpoolDir, "err", err)
		}
		if !ok || err != nil {
			break
		}
	}
	if b.Points() == 0 {
		return
	}
	start := time.Now()
	d := p.deliver(ctx, b.Lines, b.Ends)
	now := time.Now()
	if !d.failed {
		if err := sp.Ack(); err != nil {
			p.log.Error("cannot acknowledge spooled data", "err", err)
		}
		p.replayNext = start.Add(time.Duration(float64(len(b.Lines)) / float64(p.cfg.ReplayBytesPerSecond) * float64(time.Second)))
		p.mu.Lock()
		conflicts := p.deadLetteredLocked(d.dead, now)
		p.requestsLocked(&d)
		p.st.replayedLocked(d.stored, now)
		p.succeededLocked()
		p.mu.Unlock()
		p.writeDeadLetters(d.dead, conflicts)
		return
	}
	if d.progress() {
		r := &p.rest
		r.Reset()
		for _, s := range d.rest {
			r.AddLines(b.Lines, b.Ends, s.lo, s.hi)
		}
		r.Created = b.Created
		if err := sp.Append(*r); err != nil {
			p.log.Error("cannot spool the rest of a replayed batch; it will be replayed whole", "err", err)
			sp.Release()
		} else if err := sp.Ack(); err != nil {
			p.log.Error("cannot acknowledge spooled data", "err", err)
		}
	} else {
		sp.Release()
	}
	p.mu.Lock()
	conflicts := p.deadLetteredLocked(d.dead, now)
	p.requestsLocked(&d)
	if d.stored > 0 {
		p.st.replayedLocked(d.stored, now)
	}
	p.failLocked(d.fail, now)
	p.mu.Unlock()
	p.writeDeadLetters(d.dead, conflicts)
}

// logSpool logs how much data waits in the spool and since when, if any.
func (p *Output) logSpool() {
	sp := p.spool.Load()
	if sp == nil {
		return
	}
	st := sp.Stats()
	if st.Points == 0 {
		return
	}
	p.mu.Lock()
	outage, rate, reason := p.outage, p.st.replayRateAt(time.Now()), p.degraded
	p.mu.Unlock()
	if outage {
		p.log.Warn("InfluxDB is not accepting writes; data is waiting in the spool", "points", st.Points,
			"bytes", st.Bytes, "segments", st.Segments, "oldest_point", st.Oldest.UTC(),
			"spooled_since", st.OldestSpooled.UTC(), "reason", reason, "dir", p.cfg.SpoolDir)
		return
	}
	p.log.Info("replaying the spool", "points", st.Points, "bytes", st.Bytes, "segments", st.Segments,
		"oldest_point", st.Oldest.UTC(), "spooled_since", st.OldestSpooled.UTC(),
		"replay_points_per_s", int64(rate), "dir", p.cfg.SpoolDir)
}
