package publisher

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
)

// intake is the publisher's first stage: it filters feed messages, encodes
// each one once into line protocol (a chunk) and offers the chunk to every
// output's inbox. It runs on the caller's goroutine (the WAMP receive
// goroutine, and record's for the stats sample): it takes its own mutex,
// never an output's, and never waits for an output.
type intake struct {
	outputs []*Output
	filter  Filter

	skipped, excluded atomic.Uint64 // messages not recorded, points filtered out

	mu       sync.Mutex
	enc      Encoder
	closed   bool
	received uint64
	feeds    map[feedKey]*intakeFeed // bounded by limit
	agents   map[string]*agentShare  // bounded by limit; beyond it, others
	others   *agentShare
	limit    feedLimit
	other    intakeFeed        // of the feeds removed from feeds
	folded   uint64            // entries removed from feeds
	rejected map[Reason]uint64 // encoding rejections
	points   uint64            // of rejected, point reasons
	full     []uint64          // points each output's inbox refused
	rejects  rejectLog
}

// intakeFeed counts the points received of one feed.
type intakeFeed struct {
	received uint64
	last     time.Time // when the feed last sent a message
}

func (f *intakeFeed) active() time.Time { return f.last }

// agentShare is the memory one agent's data holds in each output, for the
// fair share of Output.offer.
type agentShare struct {
	mem  []atomic.Int64 // bytes, per output (Output.index)
	last time.Time      // when the agent last sent a message
}

// idle reports whether the agent holds no memory in any output.
func (a *agentShare) idle() bool {
	for i := range a.mem {
		if a.mem[i].Load() != 0 {
			return false
		}
	}
	return true
}

func newIntake(protocol Protocol, filter Filter, limit feedLimit, outputs []*Output) *intake {
	in := &intake{outputs: outputs, filter: filter, rejected: make(map[Reason]uint64), full: make([]uint64, len(outputs)),
		feeds: make(map[feedKey]*intakeFeed), limit: limit,
		agents: make(map[string]*agentShare), others: &agentShare{mem: make([]atomic.Int64, len(outputs))}}
	in.enc.Protocol = protocol
	in.enc.OnReject = in.rejectLocked // enqueue holds in.mu while encoding
	return in
}

// enqueue encodes m and offers it to every output. m is read during the
// call only. It returns false when some output could not take the points
// (they are counted as ReasonQueueFull for it) or the publisher has
// stopped (ReasonStopped).
func (in *intake) enqueue(m *feeds.Message) bool {
	if !Recordable(&m.Info) {
		in.skipped.Add(1)
		return true
	}
	agent, feed := m.Info.AgentAddress, m.Info.FeedName
	n := samples(m)
	if !in.filter.empty() && !in.filter.Accept(agent, feed) {
		in.excluded.Add(n)
		return true
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.received += n
	now := time.Now()
	key := shortKey(agent, feed)
	f := in.feeds[key]
	if f == nil {
		makeRoom(in.feeds, in.limit, (*intakeFeed).active, in.fold)
		f = &intakeFeed{}
		in.feeds[key] = f
	}
	f.received += n
	f.last = now
	if in.closed {
		in.rejectLocked(Reject{Reason: ReasonStopped, Agent: agent, Feed: feed, Count: n})
		return false
	}
	c := newChunk(agent, feed, n)
	c.share = in.shareOf(key.agent, now)
	in.enc.Reset(m)
	for {
		before := len(c.buf)
		var more bool
		c.buf, more = in.enc.Next(c.buf)
		if !more {
			break
		}
		if len(c.buf) > before {
			c.ends = append(c.ends, len(c.buf))
		}
	}
	if len(c.ends) == 0 {
		c.free()
		return true
	}
	c.at = now
	c.refs.Store(int32(len(in.outputs)))
	ok := true
	for i, o := range in.outputs {
		if !o.offer(c, &c.share.mem[i]) {
			ok = false
			in.full[i] += uint64(len(c.ends))
			in.rejects.add(Reject{Reason: ReasonQueueFull, Agent: agent, Feed: feed, Count: uint64(len(c.ends))})
			c.release()
		}
	}
	return ok
}

// shareOf returns the memory share of agent (the shared one of the
// others when limit.max agents have one already).
func (in *intake) shareOf(agent string, now time.Time) *agentShare {
	a := in.agents[agent]
	if a == nil {
		if len(in.agents) >= in.limit.max {
			return in.others
		}
		a = &agentShare{mem: make([]atomic.Int64, len(in.outputs))}
		in.agents[agent] = a
	}
	a.last = now
	return a
}

// fold adds the counts of a feed entry being removed to the other feeds'.
func (in *intake) fold(f *intakeFeed) {
	in.other.received += f.received
	in.folded++
}

// expireFeeds removes the entries of feeds silent for longer than the
// limit's expiry.
func (in *intake) expireFeeds(now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	expire(in.feeds, in.limit, now, (*intakeFeed).active, in.fold)
	cut := now.Add(-in.limit.expiry)
	for name, a := range in.agents {
		if a.last.Before(cut) && a.idle() {
			delete(in.agents, name) // outputs may still release into it: harmless
		}
	}
}

// close refuses later messages (ReasonStopped). Once it has returned no
// chunk is offered to an output any more.
func (in *intake) close() {
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
}

// rejectLocked counts a rejection and queues it for the periodic log.
func (in *intake) rejectLocked(r Reject) {
	if r.Count == 0 {
		return
	}
	in.rejected[r.Reason] += r.Count
	if isPointReason(r.Reason) {
		in.points += r.Count
	}
	in.rejects.add(r)
}

// takeRejects returns the rejections since the last call, for the log.
func (in *intake) takeRejects() []Reject {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.rejects.take()
}

// intakeStats are the intake's counters.
type intakeStats struct {
	received, skipped, excluded, points uint64
	rejected                            map[Reason]uint64
	full                                []uint64
	feeds                               map[feedKey]uint64
	other, folded                       uint64
}

func (in *intake) stats() intakeStats {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := intakeStats{received: in.received, skipped: in.skipped.Load(), excluded: in.excluded.Load(), points: in.points,
		rejected: make(map[Reason]uint64, len(in.rejected)), full: append([]uint64(nil), in.full...),
		feeds: make(map[feedKey]uint64, len(in.feeds)), other: in.other.received, folded: in.folded}
	for k, f := range in.feeds {
		s.feeds[k] = f.received
	}
	for r, n := range in.rejected {
		s.rejected[r] = n
	}
	return s
}

// chunk is the line protocol of one feed message, encoded once by the
// intake and shared, read-only, by the outputs it was offered to; the last
// output to copy it returns it to the pool.
type chunk struct {
	agent, feed string
	samples     uint64 // of the message, rejected ones included
	share       *agentShare
	buf         []byte
	ends        []int // end offset in buf of every line
	at          time.Time
	refs        atomic.Int32 // outputs that have not copied it yet
}

var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

func newChunk(agent, feed string, samples uint64) *chunk {
	c := chunkPool.Get().(*chunk)
	c.agent, c.feed, c.samples = agent, feed, samples
	return c
}

// maxPooledChunk: larger chunks are left to the garbage collector.
const maxPooledChunk = 1 << 20

func (c *chunk) free() {
	if cap(c.buf) > maxPooledChunk {
		return
	}
	c.buf, c.ends, c.agent, c.feed, c.share = c.buf[:0], c.ends[:0], "", "", nil
	chunkPool.Put(c)
}

// release is called by each output when it no longer needs c.
func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		c.free()
	}
}
