package publisher

import (
	"sync/atomic"
	"time"
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

// feedCount is how many lines (and bytes) of one feed a batch holds, and
// the share of memory of the feed's agent they count in.
type feedCount struct {
	feed  *feedStat
	share *atomic.Int64
	lines int
	bytes int
}

func (b *batch) points() int { return len(b.ends) }

// size is the memory b's data takes, as counted in Output.mem.
func (b *batch) size() int { return len(b.buf) }

// addLine records that a line of n bytes ending at len(b.buf) belongs to
// fs, and counts in share.
func (b *batch) addLine(fs *feedStat, share *atomic.Int64, n int) {
	b.ends = append(b.ends, len(b.buf))
	if fs.batchSeq == b.seq && fs.batchIdx < len(b.feeds) && b.feeds[fs.batchIdx].feed == fs && b.feeds[fs.batchIdx].share == share {
		b.feeds[fs.batchIdx].lines++
		b.feeds[fs.batchIdx].bytes += n
		return
	}
	fs.batchSeq, fs.batchIdx = b.seq, len(b.feeds)
	b.feeds = append(b.feeds, feedCount{feed: fs, share: share, lines: 1, bytes: n})
}

// releaseLocked takes the data of b (written, spooled or dropped) out of
// the memory counts: the output's and its agents' shares.
func (p *Output) releaseLocked(b *batch) {
	p.mem.Add(-int64(b.size()))
	p.memPoints.Add(-int64(b.points()))
	for i := range b.feeds {
		p.releaseShare(b.feeds[i].share, b.feeds[i].bytes)
		b.feeds[i].bytes = 0
	}
}

// releaseShare takes n bytes out of an agent's share.
func (p *Output) releaseShare(share *atomic.Int64, n int) {
	if share != nil && n > 0 && share.Add(-int64(n)) == 0 {
		p.holders.Add(-1)
	}
}

// newBatchLocked returns an empty batch, reusing a free one if possible.
func (p *Output) newBatchLocked(now time.Time) *batch {
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
func (p *Output) recycleLocked(b *batch) {
	if len(p.free) >= maxFreeBatches || cap(b.buf) > 2*p.cfg.BatchBytes {
		return
	}
	b.buf, b.ends = b.buf[:0], b.ends[:0]
	clear(b.feeds)
	b.feeds = b.feeds[:0]
	p.free = append(p.free, b)
}

// sealLocked moves the open batch to the end of the send queue.
func (p *Output) sealLocked() {
	if p.open == nil || p.open.points() == 0 {
		return
	}
	p.queue = append(p.queue, p.open)
	p.open = nil
}

// fairShare is the most memory one agent may hold once more than half of
// limit is held: limit over the number of agents holding memory, or, when
// it is alone, all but an eighth, kept for the others' next points.
func fairShare(limit, holders int64) int64 {
	if holders < 2 {
		return limit - limit/8
	}
	return limit / holders
}

// inboxLen bounds the chunks (messages) waiting in an output's inbox, for
// bursts of small messages (the channel takes 8 bytes per slot); the bytes
// they hold count against MaxPendingBytes from the moment they are offered.
const inboxLen = 1 << 16

// offer hands c to the output without blocking, on the intake's
// goroutine, counting its bytes in share, the memory its agent holds in
// this output. It returns false when the output holds MaxPendingBytes
// already (its spool, if any, cannot keep up), when more than half of it
// is held and c's agent holds more than its fairShare (a flooding agent
// loses its newest data first, and the others keep room), or when the
// inbox is full.
func (p *Output) offer(c *chunk, share *atomic.Int64) bool {
	size, n := int64(len(c.buf)), int64(len(c.ends))
	limit, mem := int64(p.cfg.MaxPendingBytes), p.mem.Load()
	if mem > 0 && mem+size > limit {
		return false
	}
	if mem+size > limit/2 && share.Load()+size > fairShare(limit, p.holders.Load()) {
		return false
	}
	p.mem.Add(size)
	p.memPoints.Add(n)
	if share.Add(size) == size {
		p.holders.Add(1)
	}
	select {
	case p.inbox <- c:
		p.offered.Add(uint64(n))
		return true
	default:
		p.mem.Add(-size)
		p.memPoints.Add(-n)
		p.releaseShare(share, int(size))
		return false
	}
}

// runInbox is the output's inbox goroutine: it moves offered chunks into
// batches, under the output's lock, until quit is closed, and then takes
// what is left in the inbox (the intake has stopped offering by then).
func (p *Output) runInbox(quit <-chan struct{}) {
	for {
		select {
		case c := <-p.inbox:
			p.addChunks(c)
		case <-quit:
			for {
				select {
				case c := <-p.inbox:
					p.addChunks(c)
				default:
					return
				}
			}
		}
	}
}

// addChunks adds c, and the chunks queued behind it, to the pending data.
func (p *Output) addChunks(c *chunk) {
	p.mu.Lock()
	signal := false
	for n := 0; ; n++ {
		signal = p.addLocked(c) || signal
		c.release()
		if n == 64 {
			break
		}
		select {
		case c = <-p.inbox:
			continue
		default:
		}
		break
	}
	p.mu.Unlock()
	if signal {
		p.signal()
	}
}

// addLocked copies the lines of c into the open batch (sealing batches
// that fill up) and reports whether the writer or the spooler should look
// at the pending data. After Run has stopped, the lines are counted as
// ReasonStopped.
func (p *Output) addLocked(c *chunk) bool {
	fs := p.feedStatLocked(c.agent, c.feed)
	fs.last = c.at
	share := &c.share.mem[p.index]
	if p.closed {
		p.mem.Add(-int64(len(c.buf)))
		p.memPoints.Add(-int64(len(c.ends)))
		p.releaseShare(share, len(c.buf))
		p.rejectLocked(Reject{Reason: ReasonStopped, Agent: c.agent, Feed: c.feed, Count: uint64(len(c.ends))})
		return false
	}
	signal := false
	start := 0
	for _, end := range c.ends {
		if p.open == nil {
			p.open = p.newBatchLocked(c.at)
		}
		b := p.open
		if b.points() == 0 {
			b.first = c.at // the flush interval counts from the first line
			signal = true  // the spooler times the open batch
		}
		b.buf = append(b.buf, c.buf[start:end]...)
		b.addLine(fs, share, end-start)
		start = end
		if b.points() >= p.cfg.BatchPoints || len(b.buf) >= p.cfg.BatchBytes {
			p.sealLocked()
			signal = true
		}
	}
	return signal
}

// signal wakes Run's writer and the spooler without blocking.
func (p *Output) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
	select {
	case p.spoolWake <- struct{}{}:
	default:
	}
}
