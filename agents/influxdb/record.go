package influxdb

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ocsflux/ocsflux/agents"
	"github.com/ocsflux/ocsflux/publisher"
)

// The messages record returns, as the Python agent.
const (
	// MsgEnded ends a record session that reached InfluxDB (success true).
	MsgEnded = "Aggregation has ended"
	// MsgNotConnected ends a record session stopped before InfluxDB
	// answered (success false).
	MsgNotConnected = "Failed to connect to InfluxDB"
)

// record is the record process: one publisher per session, fed by the
// subscription's handler while the session runs.
//
// Phase A (connecting): the publisher checks the database until InfluxDB
// answers; the session data stays {} and degraded false, as in Python, and
// data arriving meanwhile is kept. A stop ends the session with success
// false and MsgNotConnected.
//
// Phase B (recording): every UpdateInterval the session data and degraded
// flag are refreshed from the publisher's counters. A stop (in any state,
// degraded included) stops intake, writes what is pending within
// Options.ShutdownTimeout and ends with success true and MsgEnded; so does
// test_mode after one interval.
func (a *Agent) record(s *agents.Session, p agents.Params) (bool, string, error) {
	log := s.Logger()
	cfg, err := a.publisherConfig()
	if err != nil {
		return false, "", err
	}
	pub, err := publisher.New(cfg, log)
	if err != nil {
		return false, "", err
	}
	r := &recordRun{a: a, s: s, log: log, rec: &recording{pub: pub}, done: make(chan error, 1)}
	// Intake starts before InfluxDB is reached, as the Python agent sets its
	// recording flag first thing; the publisher keeps the data until then.
	a.rec.Store(r.rec)
	defer a.rec.CompareAndSwap(r.rec, nil)
	return r.run(p.Bool("test_mode"))
}

// recordRun is the state of one record session, owned by its goroutine.
type recordRun struct {
	a      *Agent
	s      *agents.Session
	log    *slog.Logger
	rec    *recording
	done   chan error // the publisher's Run result
	cancel context.CancelFunc

	degraded      bool
	reason        string
	degradedSince time.Time // when degraded last became true
}

func (r *recordRun) run(testMode bool) (bool, string, error) {
	ctx, cancel := context.WithCancel(r.s.Context())
	defer cancel()
	r.cancel = cancel
	go func() { r.done <- r.rec.pub.Run(ctx) }()

	tick := time.NewTicker(UpdateInterval)
	defer tick.Stop()

	// Phase A: connecting.
	for connected := false; !connected; {
		select {
		case <-r.rec.pub.Connected():
			connected = true
		case now := <-tick.C:
			r.publishStats(now, r.rec.snapshot())
		case <-r.s.Stopping():
			r.stop()
			return false, MsgNotConnected, nil
		case err := <-r.done:
			r.ended(err)
			if err != nil && !errors.Is(err, publisher.ErrNotConnected) {
				return false, err.Error(), nil // e.g. the spool directory cannot be used
			}
			return false, MsgNotConnected, nil
		}
	}

	// Phase B: recording.
	r.log.Info("recording feeds to InfluxDB", "database", r.a.opts.Database, "test_mode", testMode)
	tick.Reset(UpdateInterval)
	for {
		select {
		case now := <-tick.C:
			if testMode {
				r.stop()
				return true, MsgEnded, nil
			}
			r.update(now)
		case <-r.s.Stopping():
			r.stop()
			return true, MsgEnded, nil
		case err := <-r.done:
			r.ended(err)
			r.final()
			return true, MsgEnded, nil
		}
	}
}

// update refreshes the session data and degraded flag, publishes a stats
// sample and reports what the decoder dropped.
func (r *recordRun) update(now time.Time) {
	snap := r.rec.snapshot()
	flip := r.followDegraded(snap, now)
	r.s.SetData(r.sessionData(snap, now)) // degraded_since before the flag
	if flip {
		r.s.SetDegraded(r.degraded)
	}
	r.publishStats(now, snap)
	r.rec.problems.flush(r.log, now, false)
}

// followDegraded follows the publisher's state: degraded while InfluxDB is
// unreachable or refusing the data (op_code 8), with the reason logged on
// every change, and since when (degradedSince). It reports whether the
// session's degraded flag must flip (after the session data is set, so
// that a status reply never shows the flag without degraded_since).
func (r *recordRun) followDegraded(snap snapshot, now time.Time) bool {
	deg, reason := snap.degraded()
	if deg == r.degraded && reason == r.reason {
		return false
	}
	if deg && !r.degraded {
		r.degradedSince = now
	}
	switch {
	case deg:
		r.log.Warn("record degraded: InfluxDB is not accepting data", "reason", reason)
	default:
		r.log.Info("record no longer degraded: InfluxDB accepts data again")
	}
	flip := deg != r.degraded
	r.degraded, r.reason = deg, reason
	return flip
}

// sessionData is the session data of snap, with degraded_since: the Unix
// time since which record is degraded, null when it is not (what a
// healthcheck reads, see ocsflux client's health command).
func (r *recordRun) sessionData(snap snapshot, now time.Time) map[string]any {
	d := snap.sessionData(now)
	d["degraded_since"] = nil
	if r.degraded {
		d["degraded_since"] = unixSeconds(r.degradedSince)
	}
	return d
}

// publishStats publishes a stats sample on the stats feed and hands it to
// the publisher (the router does not deliver the agent its own events).
func (r *recordRun) publishStats(now time.Time, snap snapshot) {
	vals := snap.fields()
	t := unixSeconds(now)
	r.rec.pub.Enqueue(statsMessage(r.a.stats.Info(), t, vals))
	if err := r.a.stats.PublishSample(StatsBlock, t, statsSample(vals)); err != nil && !errors.Is(err, agents.ErrNotConnected) {
		r.log.Warn("cannot publish the stats feed", "feed", StatsFeed, "err", err)
	}
}

// stop ends the session: intake first (events are discarded from now on),
// then a last stats sample, then the publisher's final flush, bounded by
// Options.ShutdownTimeout; with a spool the rest is spooled. What is left
// (spooled or lost) is logged.
func (r *recordRun) stop() {
	r.a.rec.CompareAndSwap(r.rec, nil)
	connected := isClosed(r.rec.pub.Connected())
	if connected {
		r.publishStats(time.Now(), r.rec.snapshot())
	}
	r.cancel()
	guard := time.NewTimer(r.a.opts.ShutdownTimeout + stopMargin)
	defer guard.Stop()
	select {
	case err := <-r.done:
		r.ended(err)
	case <-r.s.Context().Done():
		r.log.Error("record cancelled during its final write; leaving the InfluxDB writer to its own deadline",
			"shutdown_timeout", r.a.opts.ShutdownTimeout)
	case <-guard.C:
		r.log.Error("InfluxDB writer did not stop in time; leaving it", "shutdown_timeout", r.a.opts.ShutdownTimeout)
	}
	if connected {
		r.final()
		return
	}
	r.rec.problems.flush(r.log, time.Now(), true)
}

// final sets the session data and degraded flag a last time and reports
// what the decoder dropped since the last report.
func (r *recordRun) final() {
	now := time.Now()
	snap := r.rec.snapshot()
	flip := r.followDegraded(snap, now)
	r.s.SetData(r.sessionData(snap, now)) // degraded_since before the flag
	if flip {
		r.s.SetDegraded(r.degraded)
	}
	r.rec.problems.flush(r.log, now, true)
}

// ended reports how the publisher ended.
func (r *recordRun) ended(err error) {
	r.a.rec.CompareAndSwap(r.rec, nil)
	st := r.rec.pub.Stats()
	lost := st.Rejected[publisher.ReasonStopped]
	spool := r.a.opts.SpoolDir
	switch {
	case errors.Is(err, publisher.ErrNotConnected):
		if lost > 0 {
			r.log.Warn("stopped before InfluxDB answered; data received meanwhile is not written"+noSpool(spool),
				"points", lost)
		}
		if spool != "" && st.SpoolPoints > 0 {
			r.log.Info("stopped before InfluxDB answered; data waiting in the spool is written when record runs again",
				"spool_points", st.SpoolPoints, "spool_bytes", st.SpoolBytes, "spool_dir", spool)
		}
	case err != nil:
		r.log.Warn("data not written when record stopped"+noSpool(spool), "points", lost,
			"pending_bytes", st.PendingBytes, "err", err)
	case spool != "" && st.SpoolPoints > 0:
		r.log.Info("record stopped; data InfluxDB has not accepted yet is in the spool, written when record runs again",
			"points_written", st.Written, "spool_points", st.SpoolPoints, "spool_bytes", st.SpoolBytes, "spool_dir", spool)
	default:
		r.log.Info("record stopped; everything received was written", "points_written", st.Written)
	}
}

// noSpool is the hint added to a log of lost data when there is no spool.
func noSpool(dir string) string {
	if dir == "" {
		return " (no spool configured)"
	}
	return ""
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
