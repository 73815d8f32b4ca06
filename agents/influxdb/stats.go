package influxdb

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// The agent's own recorded feed.
const (
	// StatsFeed is the feed on which record publishes its counters once per
	// UpdateInterval (record true, agg_params {"exclude_aggregator": true},
	// buffer_time 0). The samples are also written to InfluxDB directly
	// (the router does not deliver an agent its own events): measurement
	// <agent address>, tag feed=ocsflux_stats.
	StatsFeed = "ocsflux_stats"
	// StatsBlock is the block name of the stats samples.
	StatsBlock = "stats"
	// UpdateInterval is how often record refreshes its session data and
	// publishes a stats sample (the Python agent's 1 s loop).
	UpdateInterval = time.Second
)

// StatsFields returns the field names of a stats sample, in the order they
// are written. Fields ending in _s are floats (seconds); all others are
// integers, always, so InfluxDB's field types never change:
//
//   - points_received: samples of recorded feeds received in this record
//     session, including those the decoder had to drop;
//   - points_written: points InfluxDB stored;
//   - points_rejected: points not written because of their content (bad
//     timestamp, no writable field, field type conflict, refused by the
//     server, ...), including samples the decoder dropped;
//   - points_dropped: valid points lost for lack of room (queue full) or
//     still unwritten when record stopped;
//   - points_pending: points waiting to be written (including retries);
//   - batches_written: successful write requests;
//   - write_errors: failed write requests (each is retried);
//   - last_write_latency_s: duration of the last write request;
//   - bytes_sent: request body bytes sent to /write (after gzip);
//   - spool_bytes, spool_segments: the on-disk spool's segment files
//     (0 without a spool);
//   - spool_oldest_s: Unix time (seconds) of the oldest point waiting in
//     the spool, 0 when it is empty;
//   - dead_lettered: points InfluxDB refused for good, written to the
//     dead-letter file (also counted in points_rejected);
//   - events_dropped: feed events that could not be decoded at all.
//
// The counters start at 0 with each record session.
func StatsFields() []string {
	return []string{
		"points_received", "points_written", "points_rejected", "points_dropped", "points_pending",
		"batches_written", "write_errors", "last_write_latency_s", "bytes_sent",
		"spool_bytes", "spool_segments", "spool_oldest_s", "dead_lettered", "events_dropped",
	}
}

// recording is the intake of one record session: its publisher and what
// the feed handler had to drop. It lives from record's start to its end.
type recording struct {
	pub *publisher.Publisher
	// eventsDropped counts events that could not be decoded, or whose
	// whole recorded message was unusable.
	eventsDropped atomic.Uint64
	// pointsLost counts samples the decoder dropped (feeds.PointsLost).
	pointsLost atomic.Uint64
	problems   problemLog
}

// badEvent counts an event DecodeEvent refused.
func (r *recording) badEvent(topic string, err error) {
	r.eventsDropped.Add(1)
	r.problems.addBadEvent(topic, err)
}

// noteProblems counts what the decoder dropped from a recorded message.
func (r *recording) noteProblems(ps []feeds.Problem) {
	for _, p := range ps {
		if p.Scope == feeds.ScopeMessage {
			r.eventsDropped.Add(1)
		}
		r.problems.addProblem(p)
	}
	if n := feeds.PointsLost(ps); n > 0 {
		r.pointsLost.Add(uint64(n))
	}
}

// snapshot is the state of a record session at one moment.
type snapshot struct {
	st            publisher.Stats
	eventsDropped uint64
	pointsLost    uint64
}

func (r *recording) snapshot() snapshot {
	return snapshot{st: r.pub.Stats(), eventsDropped: r.eventsDropped.Load(), pointsLost: r.pointsLost.Load()}
}

// degraded reports whether InfluxDB is unreachable or refusing the data,
// and why.
func (s snapshot) degraded() (bool, string) {
	if s.st.Degraded != "" {
		return true, s.st.Degraded
	}
	if !s.st.Connected {
		return true, "not connected"
	}
	return false, ""
}

// statValue is one field of a stats sample.
type statValue struct {
	name string
	v    feeds.Value
}

// OutputStatsFields are the fields a stats sample has per output when
// there are several (--output): output_<name>_<field>, integers, after
// StatsFields.
func OutputStatsFields() []string {
	return []string{"points_written", "points_pending", "write_errors", "spool_bytes", "dead_lettered", "degraded"}
}

// fields returns the stats sample, StatsFields in order, then with several
// outputs each one's OutputStatsFields.
func (s snapshot) fields() []statValue {
	st := s.st
	dropped := st.Rejected[publisher.ReasonQueueFull] + st.Rejected[publisher.ReasonStopped]
	rejected := s.pointsLost
	if st.RejectedPoints > dropped {
		rejected += st.RejectedPoints - dropped
	}
	i := func(name string, n uint64) statValue { return statValue{name, feeds.Int(clampInt(n))} }
	f := func(name string, x float64) statValue { return statValue{name, feeds.Float(x)} }
	vals := []statValue{
		i("points_received", st.Received+s.pointsLost),
		i("points_written", st.Written+st.Replayed), // from memory or replayed from the spool
		i("points_rejected", rejected),
		i("points_dropped", dropped),
		i("points_pending", uint64(max(st.PendingPoints, 0))),
		i("batches_written", st.Batches),
		i("write_errors", st.FailedWrites),
		f("last_write_latency_s", st.LastWriteLatency.Seconds()),
		i("bytes_sent", st.BytesSent),
		i("spool_bytes", uint64(max(st.SpoolBytes, 0))),
		i("spool_segments", uint64(max(st.SpoolSegments, 0))),
		f("spool_oldest_s", unixSecondsOrZero(st.SpoolOldest)),
		i("dead_lettered", st.DeadLettered),
		i("events_dropped", s.eventsDropped),
	}
	for _, o := range st.Outputs {
		deg := uint64(0)
		if o.Degraded != "" || !o.Connected {
			deg = 1
		}
		p := "output_" + o.Name + "_"
		vals = append(vals,
			i(p+"points_written", o.Written+o.Replayed),
			i(p+"points_pending", uint64(max(o.PendingPoints, 0))),
			i(p+"write_errors", o.FailedWrites),
			i(p+"spool_bytes", uint64(max(o.SpoolBytes, 0))),
			i(p+"dead_lettered", o.DeadLettered),
			i(p+"degraded", deg))
	}
	return vals
}

func clampInt(n uint64) int64 {
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}

// sessionData returns record's session data: the Python agent's connected
// and last_updated, then every stats field, then details (see the package
// documentation for the keys).
func (s snapshot) sessionData(now time.Time) map[string]any {
	_, reason := s.degraded()
	d := map[string]any{
		"connected":       s.st.Connected,
		"last_updated":    unixSeconds(now),
		"degraded_reason": reason,
		"pending_bytes":   int64(max(s.st.PendingBytes, 0)),
		"last_write":      nil,
	}
	if !s.st.LastWrite.IsZero() {
		d["last_write"] = unixSeconds(s.st.LastWrite)
	}
	for _, f := range s.fields() {
		d[f.name] = f.v.Wire()
	}
	byReason := make(map[string]any, len(s.st.Rejected)+1)
	for r, n := range s.st.Rejected {
		byReason[string(r)] = clampInt(n)
	}
	if s.pointsLost > 0 {
		byReason[ReasonDecoder] = clampInt(s.pointsLost)
	}
	d["rejected_by_reason"] = byReason
	perFeed := make(map[string]any)
	for _, fs := range s.st.Feeds {
		name := publisher.ShortName(fs.Agent) // bounded, as every name in the session data
		agent, _ := perFeed[name].(map[string]any)
		if agent == nil {
			agent = make(map[string]any)
			perFeed[name] = agent
		}
		var last any
		if !fs.LastWritten.IsZero() {
			last = unixSeconds(fs.LastWritten)
		}
		agent[publisher.ShortName(fs.Feed)] = map[string]any{
			"points_received": clampInt(fs.Received),
			"points_written":  clampInt(fs.Written),
			"last_written":    last,
		}
	}
	d["feeds"] = perFeed
	d["other_feeds"] = map[string]any{
		"feeds_folded":    clampInt(s.st.FoldedFeeds),
		"points_received": clampInt(s.st.OtherFeeds.Received),
		"points_written":  clampInt(s.st.OtherFeeds.Written),
	}
	d["points_excluded"] = clampInt(s.st.Excluded)
	s.spoolData(d)
	if len(s.st.Outputs) > 0 {
		outs := make(map[string]any, len(s.st.Outputs))
		for _, o := range s.st.Outputs {
			outs[o.Name] = outputData(o)
		}
		d["outputs"] = outs
	}
	return d
}

// outputData is one output's entry in the session data's "outputs".
func outputData(o publisher.OutputStats) map[string]any {
	var last any
	if !o.LastWrite.IsZero() {
		last = unixSeconds(o.LastWrite)
	}
	return map[string]any{
		"target":          o.Target,
		"connected":       o.Connected,
		"degraded_reason": o.Degraded,
		"points_received": clampInt(o.Received),
		"points_written":  clampInt(o.Written + o.Replayed),
		"points_rejected": clampInt(o.RejectedPoints),
		"points_pending":  int64(max(o.PendingPoints, 0)),
		"pending_bytes":   int64(max(o.PendingBytes, 0)),
		"batches_written": clampInt(o.Batches),
		"write_errors":    clampInt(o.FailedWrites),
		"last_write":      last,
		"spool_points":    max(o.SpoolPoints, 0),
		"spool_bytes":     max(o.SpoolBytes, 0),
		"spool_error":     o.SpoolError,
		"dead_lettered":   clampInt(o.DeadLettered),
	}
}

// spoolData adds the spool's and the dead-letter file's keys to the
// session data (the stats fields spool_bytes, spool_segments,
// spool_oldest_s and dead_lettered are already in it).
func (s snapshot) spoolData(d map[string]any) {
	st := s.st
	d["spool_points"] = max(st.SpoolPoints, 0)
	d["spooled"] = clampInt(st.Spooled)
	d["replayed"] = clampInt(st.Replayed)
	d["replay_rate"] = st.ReplayRate
	d["spool_dropped"] = clampInt(st.SpoolDropped)
	d["corrupt_records"] = clampInt(st.CorruptRecords)
	d["spool_error"] = st.SpoolError
	d["dead_letter_errors"] = clampInt(st.DeadLetterErrors)
	dl := make([]any, 0, len(st.DeadLetters))
	for _, x := range st.DeadLetters {
		dl = append(dl, map[string]any{
			"measurement": x.Agent,
			"field":       x.Field,
			"reason":      string(x.Reason),
			"count":       clampInt(x.Count),
		})
	}
	d["dead_letters"] = dl
}

// unixSecondsOrZero is unixSeconds, 0 for the zero time.
func unixSecondsOrZero(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return unixSeconds(t)
}

// ReasonDecoder is the rejected_by_reason key of the samples the feed
// decoder dropped (a timestamp that is not a number, a sample with no
// usable value, ...), before they reached the publisher.
const ReasonDecoder = "dropped by decoder"

// statsMessage returns the stats sample as a feed message of the agent's
// stats feed, to hand to the publisher.
func statsMessage(info feeds.Info, t float64, vals []statValue) *feeds.Message {
	b := feeds.Block{Name: StatsBlock, Timestamps: []float64{t}, Fields: make([]feeds.Field, len(vals))}
	for i, v := range vals {
		b.Fields[i] = feeds.Field{Name: v.name, Values: []feeds.Value{v.v}}
	}
	return &feeds.Message{Info: info, Blocks: []feeds.Block{b}}
}

// statsSample returns the stats sample as PublishSample takes it.
func statsSample(vals []statValue) map[string]any {
	m := make(map[string]any, len(vals))
	for _, v := range vals {
		m[v.name] = v.v.Wire()
	}
	return m
}

// unixSeconds is t as Python's time.time() gives it.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
