package publisher

import (
	"sort"
	"time"
)

// Stats is a snapshot of the publisher's counters and state.
type Stats struct {
	// Connected is false until InfluxDB answered the start-up database
	// check, and afterwards false while writes fail (the Python agent's
	// session data "connected").
	Connected bool
	// Degraded says why InfluxDB is unreachable or refusing the data
	// (e.g. "authentication failed (HTTP 401): ..."); empty when writes
	// succeed. Credentials never appear in it.
	Degraded string

	// Received counts points (samples) of recordable messages given to
	// Enqueue and let through by the Filter; Skipped counts messages of
	// feeds not recorded, Excluded the points the Filter left out. (In
	// Outputs, Received counts the points offered to that output.)
	Received uint64
	Skipped  uint64
	Excluded uint64
	// Written counts points InfluxDB stored from memory; points it stored
	// from the spool are counted in Replayed. Received = Written +
	// Spooled + point rejections (RejectedPoints, dead letters included)
	// + PendingPoints, give or take dead letters of replayed data.
	Written uint64
	// RejectedPoints counts points not written, for any point reason.
	RejectedPoints uint64
	// Rejected counts by reason: point reasons count points, field
	// reasons count single values left out of written points.
	Rejected map[Reason]uint64
	// PendingPoints and PendingBytes are the data waiting to be written,
	// including batches kept for retry; PendingBytes is the memory they
	// take, as bounded by Config.MaxPendingBytes.
	PendingPoints int
	PendingBytes  int

	// Batches counts successful write requests; FailedWrites counts write
	// requests that failed and were kept for retry.
	Batches      uint64
	FailedWrites uint64
	// BytesSent counts request body bytes sent to /write (compressed when
	// gzip is on), for every attempt.
	BytesSent uint64
	// LastWriteLatency is the duration of the last write request, LastWrite
	// the time the last successful one completed.
	LastWriteLatency time.Duration
	LastWrite        time.Time

	// Feeds has one entry per agent/feed seen, sorted by agent and feed,
	// for at most Config.MaxFeeds feeds active within Config.FeedExpiry;
	// OtherFeeds sums the counters of the others (FoldedFeeds entries
	// were folded into it).
	Feeds       []FeedStats
	OtherFeeds  FeedStats
	FoldedFeeds uint64

	// The spool (all zero without Config.SpoolDir).
	//
	// SpoolBytes and SpoolSegments are its files on disk, SpoolPoints the
	// points waiting in it (from this run and earlier ones), SpoolOldest
	// the earliest point time among them and SpoolSince when the oldest
	// of them was spooled (zero when empty).
	SpoolBytes    int64
	SpoolSegments int
	SpoolPoints   int64
	SpoolOldest   time.Time
	SpoolSince    time.Time
	// Spooled counts points of this run that went to the spool instead of
	// being written (they are not in Written).
	Spooled uint64
	// Replayed counts points written to InfluxDB from the spool (they may
	// have been received in an earlier run); ReplayRate is their rate in
	// points per second over the last few seconds.
	Replayed   uint64
	ReplayRate float64
	// SpoolDropped counts points dropped from the spool by SpoolMaxBytes
	// or SpoolMaxAge (or unreadable). CorruptRecords counts corrupt or
	// torn records skipped when the spool was opened.
	SpoolDropped   uint64
	CorruptRecords uint64
	// SpoolError is the last error writing the spool while it fails (data
	// is then kept in memory); empty when the spool works.
	SpoolError string

	// DeadLettered counts points InfluxDB refused for good (also counted
	// in Rejected under their reason), DeadLetters per measurement, field
	// and reason, sorted; DeadLetterErrors counts failed writes to the
	// dead-letter file.
	DeadLettered     uint64
	DeadLetters      []DeadLetterStats
	DeadLetterErrors uint64

	// Outputs has the state and counters of each output, the first one
	// first, when there are several (nil with one).
	Outputs []OutputStats
}

// OutputStats are one output's Stats.
type OutputStats struct {
	// Name is OutputConfig.Name; Target the server's URL and the database
	// or bucket written.
	Name, Target string
	Stats
}

// FeedStats are the counters of one feed.
type FeedStats struct {
	Agent, Feed string
	// Received, Written and Spooled count points (see Stats).
	Received, Written, Spooled uint64
	// LastWritten is when a batch holding points of this feed was last
	// stored; zero if never.
	LastWritten time.Time
}

// counters are the publisher's counters, guarded by its mutex.
type counters struct {
	written, rejectedPoints          uint64
	rejected                         map[Reason]uint64
	batches, failedWrites, bytesSent uint64
	lastLatency                      time.Duration
	lastWrite                        time.Time
	spooled, replayed                uint64
	replayRate                       float64
	lastReplay                       time.Time
	// replayWin counts points replayed since replayWinStart.
	replayWin      uint64
	replayWinStart time.Time
}

// replayRateWindow is the period over which ReplayRate is measured.
const replayRateWindow = 5 * time.Second

// replayedLocked counts n points written from the spool.
func (c *counters) replayedLocked(n int, now time.Time) {
	c.replayed += uint64(n)
	c.lastReplay = now
	if c.replayWinStart.IsZero() || now.Sub(c.replayWinStart) > 2*replayRateWindow {
		c.replayWinStart, c.replayWin, c.replayRate = now, 0, 0
	}
	c.replayWin += uint64(n)
	if d := now.Sub(c.replayWinStart); d >= replayRateWindow {
		c.replayRate = float64(c.replayWin) / d.Seconds()
		c.replayWinStart, c.replayWin = now, 0
	}
}

// replayRateAt is the replay rate in points per second: over the current
// window once it is a second long, else over the previous one; zero when
// nothing was replayed for a while.
func (c *counters) replayRateAt(now time.Time) float64 {
	if c.lastReplay.IsZero() || now.Sub(c.lastReplay) > 2*replayRateWindow {
		return 0
	}
	if d := now.Sub(c.replayWinStart); d >= time.Second {
		return float64(c.replayWin) / d.Seconds()
	}
	return c.replayRate
}

// feedKey identifies a feed.
type feedKey struct{ agent, feed string }

// feedStat are the counters of one feed, guarded by the publisher's mutex.
type feedStat struct {
	agent, feed      string
	written, spooled uint64
	lastWritten      time.Time
	last             time.Time // when a line of the feed was last added
	// batchSeq/batchIdx: the open batch this feed last added a line to and
	// its index in that batch's feeds, so adding a line is O(1).
	batchSeq uint64
	batchIdx int
}

func (p *Output) feedStatLocked(agent, feed string) *feedStat {
	key := shortKey(agent, feed)
	if fs, ok := p.feeds[key]; ok {
		return fs
	}
	makeRoom(p.feeds, p.limit, (*feedStat).active, p.foldLocked)
	fs := &feedStat{agent: key.agent, feed: key.feed}
	p.feeds[key] = fs
	return fs
}

func (fs *feedStat) active() time.Time { return fs.last }

// foldLocked adds the counts of a feed entry being removed to the other
// feeds'. (Lines of it still in a batch are then counted on the removed
// entry: the per-feed counts are approximate for such feeds, the totals
// are not.)
func (p *Output) foldLocked(fs *feedStat) {
	p.other.Written += fs.written
	p.other.Spooled += fs.spooled
	if fs.lastWritten.After(p.other.LastWritten) {
		p.other.LastWritten = fs.lastWritten
	}
	p.folded++
}

// expireFeeds removes the entries of feeds silent for longer than the
// limit's expiry.
func (p *Output) expireFeeds(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	expire(p.feeds, p.limit, now, (*feedStat).active, p.foldLocked)
}

// rejectLocked counts a rejection and queues it for the periodic log.
func (p *Output) rejectLocked(r Reject) {
	if r.Count == 0 {
		return
	}
	p.st.rejected[r.Reason] += r.Count
	if isPointReason(r.Reason) {
		p.st.rejectedPoints += r.Count
	}
	p.rejects.add(r)
}

// Stats returns a snapshot of the counters. It is safe to call at any time
// from any goroutine.
func (p *Output) Stats() Stats {
	var sp SpoolStats
	if s := p.spool.Load(); s != nil {
		sp = s.Stats()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{
		Connected:        p.connected,
		Degraded:         p.degraded,
		Received:         p.offered.Load(),
		Written:          p.st.written,
		RejectedPoints:   p.st.rejectedPoints,
		Rejected:         make(map[Reason]uint64, len(p.st.rejected)),
		PendingPoints:    int(p.memPoints.Load()),
		PendingBytes:     int(p.mem.Load()),
		Batches:          p.st.batches,
		FailedWrites:     p.st.failedWrites,
		BytesSent:        p.st.bytesSent,
		LastWriteLatency: p.st.lastLatency,
		LastWrite:        p.st.lastWrite,
		Feeds:            make([]FeedStats, 0, len(p.feeds)),
		OtherFeeds:       p.other,
		FoldedFeeds:      p.folded,

		SpoolBytes:       sp.Bytes,
		SpoolSegments:    sp.Segments,
		SpoolPoints:      sp.Points,
		SpoolOldest:      sp.Oldest,
		SpoolSince:       sp.OldestSpooled,
		Spooled:          p.st.spooled,
		Replayed:         p.st.replayed,
		SpoolDropped:     sp.DroppedPoints,
		CorruptRecords:   sp.CorruptRecords,
		SpoolError:       p.spoolErr,
		DeadLettered:     p.dead.total,
		DeadLetters:      p.dead.list(),
		DeadLetterErrors: p.dead.errors,
	}
	s.ReplayRate = p.st.replayRateAt(time.Now())
	for r, n := range p.st.rejected {
		s.Rejected[r] = n
	}
	for _, fs := range p.feeds {
		s.Feeds = append(s.Feeds, FeedStats{Agent: fs.agent, Feed: fs.feed,
			Written: fs.written, Spooled: fs.spooled, LastWritten: fs.lastWritten})
	}
	sort.Slice(s.Feeds, func(i, j int) bool {
		if s.Feeds[i].Agent != s.Feeds[j].Agent {
			return s.Feeds[i].Agent < s.Feeds[j].Agent
		}
		return s.Feeds[i].Feed < s.Feeds[j].Feed
	})
	return s
}
