package publisher

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"syscall"
	"time"
)

// spoolRetryInterval is how long the spooler waits after a failed append
// before it tries the spool again (the data stays in memory meanwhile).
const spoolRetryInterval = 5 * time.Second

// openSpool opens the spool of Config.SpoolDir, if set, and starts the
// spooler; stop stops it. A directory that cannot be used is an error
// naming it, or, with SpoolFallback, the output runs without a spool and
// is degraded with that reason.
func (p *Output) openSpool() (stop func(), err error) {
	if p.cfg.SpoolDir == "" {
		return func() {}, nil
	}
	err = ProbeDir(p.cfg.SpoolDir) // a full disk fails here, not at the first append
	var sp *Spool
	if err == nil {
		sp, err = OpenSpool(p.cfg.spoolConfig(), p.log)
	}
	if err != nil {
		what := "cannot be used"
		switch {
		case errors.Is(err, syscall.EROFS):
			what = "is read-only"
		case errors.Is(err, fs.ErrPermission):
			what = "is not writable"
		}
		err = fmt.Errorf("spool directory %s %s: %w", p.cfg.SpoolDir, what, err)
		if !p.cfg.SpoolFallback {
			return func() {}, err
		}
		p.log.Error("running without a spool: data that cannot be written is kept in memory only (up to max pending bytes)", "err", err)
		p.mu.Lock()
		p.spoolErr = err.Error()
		p.mu.Unlock()
		return func() {}, nil
	}
	p.spool.Store(sp)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		p.runSpooler(sp, quit)
	}()
	return func() { close(quit); <-done }, nil
}

// spoolUsable reports whether data goes to the spool when it cannot be
// written.
func (p *Output) spoolUsable() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spoolUsableLocked()
}

func (p *Output) spoolUsableLocked() bool { return p.spool.Load() != nil && !p.spoolBroken }

// runSpooler is the spooler goroutine: it moves batches from memory to the
// spool while writes fail or a write has been in flight for longer than
// FlushInterval (then the open batch as soon as its FlushInterval is over,
// so that a crash loses at most that), and whenever more than half of
// MaxPendingBytes is waiting; and it does the spool's periodic
// maintenance.
func (p *Output) runSpooler(sp *Spool, quit <-chan struct{}) {
	period := time.Second
	if p.cfg.SpoolSync > 0 {
		period = max(min(period, p.cfg.SpoolSync), 10*time.Millisecond)
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		batches, wait := p.takeForSpool(time.Now())
		if len(batches) > 0 {
			p.spoolBatches(sp, batches)
			continue
		}
		if w, broken := p.probeSpool(sp, time.Now()); broken && (wait < 0 || w < wait) {
			wait = w
		}
		sp.Maintain()
		var due <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			due = timer.C
		}
		select {
		case <-quit:
			return
		case <-p.spoolWake:
		case <-tick.C:
		case <-due:
		}
		timer.Stop()
	}
}

// takeForSpool takes the batches to spool now, oldest first, and says when
// to look again (wait < 0: when woken).
func (p *Output) takeForSpool(now time.Time) (out []*batch, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	wait = -1
	if p.closed {
		return nil, wait
	}
	if p.spoolBroken && now.Before(p.spoolRetryAt) {
		return nil, p.spoolRetryAt.Sub(now)
	}
	slow := false
	if !p.inflightSince.IsZero() {
		if d := p.inflightSince.Add(p.cfg.FlushInterval).Sub(now); d > 0 {
			wait = d
		} else {
			slow = true
		}
	}
	if p.outage || slow {
		wait = -1
		if p.open != nil && p.open.points() > 0 {
			if due := p.open.first.Add(p.cfg.FlushInterval).Sub(now); due > 0 {
				wait = due
			} else {
				p.sealLocked()
			}
		}
		for len(p.queue) > 0 {
			out = append(out, p.popLocked())
		}
		return out, wait
	}
	waiting := int(p.mem.Load()) - p.busyBytes
	if p.open != nil {
		waiting -= p.open.size()
	}
	for len(p.queue) > 0 && waiting > p.cfg.MaxPendingBytes/2 {
		waiting -= p.queue[0].size()
		out = append(out, p.popLocked())
	}
	return out, wait
}

// probeSpool checks, while the spool is broken and nothing is waiting to
// be spooled, whether it can be written again, so that the broken state
// (and record's degraded state) ends when the disk has room again even
// when the server accepts the data in the meantime. While the spool stays
// broken it returns when to look again, and true.
func (p *Output) probeSpool(sp *Spool, now time.Time) (time.Duration, bool) {
	p.mu.Lock()
	broken, retryAt := p.spoolBroken && !p.closed, p.spoolRetryAt
	p.mu.Unlock()
	if !broken {
		return 0, false
	}
	if now.Before(retryAt) {
		return retryAt.Sub(now), true
	}
	err := sp.Probe()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.spoolRetryAt, p.spoolErr = now.Add(spoolRetryInterval), err.Error()
		return spoolRetryInterval, true
	}
	p.spoolBroken, p.spoolErr = false, ""
	p.log.Info("the spool can be written again", "dir", p.cfg.SpoolDir)
	return 0, false
}

// spoolBatches appends batches to the spool. On failure the rest is put
// back at the head of the queue and the spool is tried again after
// spoolRetryInterval; meanwhile Run retries them from memory.
func (p *Output) spoolBatches(sp *Spool, batches []*batch) {
	for i, b := range batches {
		err := sp.Append(SpoolBatch{Lines: b.buf, Ends: b.ends})
		p.mu.Lock()
		if err != nil {
			for _, r := range batches[i:] {
				p.busyBytes -= r.size()
			}
			p.queue = slices.Insert(p.queue, 0, batches[i:]...)
			first := !p.spoolBroken
			p.spoolBroken, p.spoolRetryAt, p.spoolErr = true, time.Now().Add(spoolRetryInterval), err.Error()
			p.mu.Unlock()
			if first {
				p.log.Error("cannot write the spool; keeping the data in memory (up to max pending bytes) and retrying",
					"dir", p.cfg.SpoolDir, "err", err, "retry_in", spoolRetryInterval)
			}
			p.signal()
			return
		}
		p.busyBytes -= b.size()
		p.releaseLocked(b)
		p.spooledLocked(b)
		if p.spoolBroken {
			p.spoolBroken, p.spoolErr = false, ""
			p.log.Info("the spool can be written again", "dir", p.cfg.SpoolDir)
		}
		p.recycleLocked(b)
		p.mu.Unlock()
	}
	p.signal()
}

// spooledLocked counts the points of a batch that went to the spool.
func (p *Output) spooledLocked(b *batch) {
	p.st.spooled += uint64(b.points())
	for _, fc := range b.feeds {
		fc.feed.spooled += uint64(fc.lines)
	}
}
