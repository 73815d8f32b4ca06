package publisher

import (
	"time"

	"github.com/ocsflux/ocsflux/feeds"
)

// batch is line protocol for one /write request: whole lines, each ending
// in '\n'. Its buffers are owned by the publisher and reused.
type batch struct {
	buf   []byte
	ends  []int       // end offset in buf of every line
	first time.Time   // when the first line was added
	feeds []feedCount // the feeds with lines in this batch
	seq   uint64      // identifies the batch for feedStat.batchSeq
}

// feedCount is how many lines of one feed a batch holds.
type feedCount struct {
	feed  *feedStat
	lines int
}

func (b *batch) points() int { return len(b.ends) }

// size is the memory b's data takes, as counted in pendingBytes.
func (b *batch) size() int { return len(b.buf) }

// addLine records that a line ending at len(b.buf) belongs to fs.
func (b *batch) addLine(fs *feedStat) {
	b.ends = append(b.ends, len(b.buf))
	if fs.batchSeq == b.seq && fs.batchIdx < len(b.feeds) && b.feeds[fs.batchIdx].feed == fs {
		b.feeds[fs.batchIdx].lines++
		return
	}
	fs.batchSeq, fs.batchIdx = b.seq, len(b.feeds)
	b.feeds = append(b.feeds, feedCount{feed: fs, lines: 1})
}

// newBatchLocked returns an empty batch, reusing a free one if possible.
func (p *Publisher) newBatchLocked(now time.Time) *batch {
	var b *batch
	if n := len(p.free); n > 0 {
		b = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		b = &batch{}
	}
	p.batchSeq++
	b.seq = p.batchSeq
	b.first = now
	return b
}

// maxFreeBatches is how many emptied batches are kept for reuse.
const maxFreeBatches = 4

// recycleLocked returns b's buffers to the free list.
func (p *Publisher) recycleLocked(b *batch) {
	if len(p.free) >= maxFreeBatches || cap(b.buf) > 2*p.cfg.BatchBytes {
		return
	}
	b.buf, b.ends = b.buf[:0], b.ends[:0]
	clear(b.feeds)
	b.feeds = b.feeds[:0]
	p.free = append(p.free, b)
}

// sealLocked moves the open batch to the end of the send queue.
func (p *Publisher) sealLocked() {
	if p.open == nil || p.open.points() == 0 {
		return
	}
	p.queue = append(p.queue, p.open)
	p.open = nil
}

// Enqueue encodes the samples of m and adds them to the pending data. It
// never blocks on InfluxDB or on the disk: it only takes the publisher's
// lock for the time of encoding, so it may be called from a WAMP event
// handler. m is read during the call and not retained.
//
// Messages of feeds that are not recorded (see Recordable) are skipped.
// Values InfluxDB would refuse are dropped and counted (see Reason). When
// the pending data in memory has reached Config.MaxPendingBytes (without a
// spool, or when the spool cannot keep up), or after Run has returned, the
// points are dropped and counted (ReasonQueueFull, ReasonStopped) and
// Enqueue returns false; otherwise true.
//
// Enqueue may be called before Run: the data is written once InfluxDB
// answers (the Python agent keeps what arrives while it connects).
func (p *Publisher) Enqueue(m *feeds.Message) bool {
	if !Recordable(&m.Info) {
		p.mu.Lock()
		p.st.skipped++
		p.mu.Unlock()
		return true
	}
	n := samples(m)
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.received += n
	fs := p.feedStatLocked(m.Info.AgentAddress, m.Info.FeedName)
	fs.received += n
	if p.closed {
		p.rejectLocked(Reject{Reason: ReasonStopped, Agent: m.Info.AgentAddress, Feed: m.Info.FeedName, Count: n})
		return false
	}
	wasEmpty := p.pendingPoints == 0
	signal := false
	var done uint64
	p.enc.Reset(m)
	for {
		if p.pendingBytes >= p.cfg.MaxPendingBytes && done < n {
			// The spooler (if any) moves batches to disk long before
			// this; reaching it means the disk cannot keep up.
			p.rejectLocked(Reject{Reason: ReasonQueueFull, Agent: m.Info.AgentAddress, Feed: m.Info.FeedName, Count: n - done})
			p.enc.msg = nil // do not keep m
			if signal || (wasEmpty && p.pendingPoints > 0) {
				p.signal()
			}
			return false
		}
		if p.open == nil {
			p.open = p.newBatchLocked(now)
		}
		b := p.open
		before, size := len(b.buf), b.size()
		var more bool
		b.buf, more = p.enc.Next(b.buf)
		if !more {
			break
		}
		done++
		if len(b.buf) == before {
			continue // sample rejected
		}
		if b.points() == 0 {
			b.first = now // the flush interval counts from the first line
			signal = true // the spooler times the open batch
		}
		b.addLine(fs)
		p.pendingBytes += b.size() - size
		p.pendingPoints++
		if b.points() >= p.cfg.BatchPoints || len(b.buf) >= p.cfg.BatchBytes {
			p.sealLocked()
			signal = true
		}
	}
	if signal || (wasEmpty && p.pendingPoints > 0) {
		p.signal()
	}
	return true
}

// signal wakes Run's writer and the spooler without blocking.
func (p *Publisher) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
	select {
	case p.spoolWake <- struct{}{}:
	default:
	}
}
