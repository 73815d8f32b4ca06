package publisher

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Spool defaults.
const (
	DefaultSpoolMaxBytes     = 1 << 30
	DefaultSpoolMaxAge       = 7 * 24 * time.Hour
	DefaultSpoolSegmentBytes = 16 << 20
	// SpoolSyncEveryBatch and SpoolSyncNever are the SpoolSync policies
	// besides a positive interval.
	SpoolSyncEveryBatch time.Duration = 0
	SpoolSyncNever      time.Duration = -1
	// minSegmentBytes is the smallest segment size used.
	minSegmentBytes = 4 << 10
	// segmentAges: a segment is also closed when its oldest batch is
	// MaxAge/segmentAges old, so that data outlives MaxAge by at most that.
	segmentAges = 8
)

// ErrSpoolLocked is wrapped by OpenSpool's error when another process (or
// another Spool in this one) has the directory open.
var ErrSpoolLocked = errors.New("spool directory is in use")

// ErrSpoolClosed is returned by a Spool's methods after Close.
var ErrSpoolClosed = errors.New("spool closed")

// SpoolConfig configures a Spool. Zero fields take the defaults.
type SpoolConfig struct {
	// Dir holds the segment files <seq>.seg and the lock file LOCK. It is
	// created if missing.
	Dir string
	// MaxBytes (default 1 GiB) bounds the segment files' total size: an
	// Append that would exceed it first drops the oldest segments.
	MaxBytes int64
	// MaxAge (default 7 days): a segment whose newest batch was spooled
	// longer ago than this is dropped.
	MaxAge time.Duration
	// Sync says when appended data is fsync'd: after every Append
	// (SpoolSyncEveryBatch, 0), never (SpoolSyncNever, any negative value:
	// the operating system writes it back), or at most this long after an
	// Append (positive; Maintain does the deferred sync).
	Sync time.Duration
	// SegmentBytes (default 16 MiB, at most MaxBytes/4) is the size at
	// which a new segment file is started; one is also started when the
	// oldest batch of the current one is MaxAge/8 old.
	SegmentBytes int64
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
}

func (c *SpoolConfig) fillDefaults() {
	setDefault(&c.MaxBytes, DefaultSpoolMaxBytes)
	setDefault(&c.MaxAge, DefaultSpoolMaxAge)
	setDefault(&c.SegmentBytes, DefaultSpoolSegmentBytes)
	c.SegmentBytes = max(min(c.SegmentBytes, c.MaxBytes/4), minSegmentBytes)
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Spool is an on-disk, append-only queue of batches for InfluxDB, kept
// while InfluxDB does not accept them and replayed oldest first. It
// survives restarts and crashes: see the package documentation for the
// guarantees and spool_record.go for the format.
//
// Records are appended to the newest segment file; Next hands them out
// oldest first, Ack confirms those handed out (a segment is deleted once
// all its records are acknowledged) and Release hands them out again
// later. Bounds (MaxBytes, MaxAge) drop whole segments, oldest first,
// counting and logging the points and time range lost.
//
// A Spool is safe for concurrent use. It is owned by one process: OpenSpool
// takes a lock on the directory.
type Spool struct {
	cfg  SpoolConfig
	log  *slog.Logger
	lock *os.File

	mu       sync.Mutex
	segs     []*segment // oldest first; active (if any) is the last
	active   *segment   // being appended to
	af       *os.File   // active's file
	nextSeq  uint64
	bytes    int64
	buf      []byte // record encoding scratch
	dirty    bool   // appended but not synced
	lastSync time.Time
	closed   bool
	st       spoolCounters
	cur      cursor
}

// segment is one segment file.
type segment struct {
	seq    uint64
	path   string
	size   int64 // bytes of the file that are read (valid records and known corruption)
	sealed bool  // no more appends
	bad    []byteRange

	records, points        int
	minTime, maxTime       int64 // point times, Unix ns
	minCreated, maxCreated int64

	handed, acked int // records handed out by Next / acknowledged
	ackedPoints   int
	dropped       bool
}

func (g *segment) add(info recordInfo) {
	if g.records == 0 {
		g.minTime, g.maxTime = info.first, info.last
		g.minCreated, g.maxCreated = info.created, info.created
	} else {
		g.minTime, g.maxTime = minTime(g.minTime, info.first), maxTime(g.maxTime, info.last)
		g.minCreated, g.maxCreated = minTime(g.minCreated, info.created), maxTime(g.maxCreated, info.created)
	}
	g.records++
	g.points += info.points
}

type spoolCounters struct {
	appended, appendedBatches, acked uint64
	droppedPoints, droppedSegments   uint64
	corruptRecords, corruptBytes     uint64
	syncErrors                       uint64
}

// SpoolStats is a snapshot of a Spool.
type SpoolStats struct {
	// Bytes and Segments are the segment files on disk.
	Bytes    int64
	Segments int
	// Points is the number of points waiting (not acknowledged).
	Points int64
	// Oldest is the earliest point time in the waiting data and
	// OldestSpooled when its oldest batch was spooled; zero when empty.
	// Both are exact per segment: in the segment being replayed they may
	// include batches already acknowledged.
	Oldest, OldestSpooled time.Time
	// Appended counts points (AppendedBatches batches) appended and Acked
	// points acknowledged since OpenSpool.
	Appended, AppendedBatches, Acked uint64
	// DroppedPoints counts points dropped by MaxBytes and MaxAge (in
	// DroppedSegments segments) since OpenSpool.
	DroppedPoints, DroppedSegments uint64
	// CorruptRecords counts corrupt or torn regions (each possibly
	// several records) skipped, CorruptBytes their size.
	CorruptRecords, CorruptBytes uint64
	// SyncErrors counts failed fsyncs.
	SyncErrors uint64
}

// OpenSpool opens (creating it if needed) the spool in cfg.Dir, locks it,
// and scans the segments left by earlier runs: corrupt or torn records are
// skipped and counted (a torn tail is truncated), never fatal. Bounds are
// applied at once. logger may be nil.
func OpenSpool(cfg SpoolConfig, logger *slog.Logger) (*Spool, error) {
	cfg.fillDefaults()
	if cfg.Dir == "" {
		return nil, errors.New("open spool: no directory")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open spool %q: %w", cfg.Dir, err)
	}
	s := &Spool{cfg: cfg, log: logger, lock: lock, nextSeq: 1}
	s.lastSync = cfg.Now()
	if err := s.load(); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("open spool %q: %w", cfg.Dir, err)
	}
	s.mu.Lock()
	s.expireLocked()
	for s.bytes > cfg.MaxBytes && len(s.segs) > 0 {
		s.dropLocked(s.segs[0], "spool-max-bytes")
	}
	st := s.statsLocked()
	s.mu.Unlock()
	if st.Points > 0 {
		logger.Info("spool holds data from an earlier run; it will be replayed", "dir", cfg.Dir,
			"points", st.Points, "bytes", st.Bytes, "segments", st.Segments,
			"oldest", st.Oldest.UTC(), "spooled_since", st.OldestSpooled.UTC())
	}
	return s, nil
}

// segName is the file name of segment seq.
func segName(seq uint64) string { return fmt.Sprintf("%020d.seg", seq) }

// load scans the segment files.
func (s *Spool) load() error {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return err
	}
	var seqs []uint64
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".seg") {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, ".seg"), 10, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		s.nextSeq = max(s.nextSeq, seq+1)
		if g := s.scanFile(seq); g != nil {
			s.segs = append(s.segs, g)
			s.bytes += g.size
		}
	}
	return nil
}

// scanFile validates one segment file; it returns nil (and removes the
// file) when it holds no valid record.
func (s *Spool) scanFile(seq uint64) *segment {
	path := filepath.Join(s.cfg.Dir, segName(seq))
	data, err := os.ReadFile(path)
	if err != nil {
		s.log.Error("spool: cannot read a segment; leaving it", "file", path, "err", err)
		return nil
	}
	if len(data) == 0 {
		_ = os.Remove(path) // created, nothing written yet
		return nil
	}
	if len(data) < len(segMagic) || string(data[:len(segMagic)]) != segMagic {
		s.st.corruptRecords++
		s.st.corruptBytes += uint64(len(data))
		s.log.Warn("spool: segment has no valid header; removed it", "file", path, "bytes", len(data))
		_ = os.Remove(path)
		return nil
	}
	recs, bad := scanSegment(data[len(segMagic):])
	g := &segment{seq: seq, path: path, size: int64(len(data)), sealed: true}
	for i, r := range bad {
		s.st.corruptRecords++
		s.st.corruptBytes += uint64(r.end - r.start)
		tail := i == len(bad)-1 && r.end == len(data)-len(segMagic)
		s.log.Warn("spool: skipped a corrupt or torn record", "file", path,
			"offset", r.start+len(segMagic), "bytes", r.end-r.start, "tail", tail)
		if tail {
			g.size = int64(len(segMagic) + r.start)
			if err := os.Truncate(path, g.size); err != nil {
				s.log.Warn("spool: cannot truncate a torn tail", "file", path, "err", err)
			}
			continue
		}
		g.bad = append(g.bad, byteRange{start: r.start + len(segMagic), end: r.end + len(segMagic)})
	}
	for _, r := range recs {
		g.add(r.info)
	}
	if g.records == 0 {
		_ = os.Remove(path)
		return nil
	}
	return g
}

// Append writes b as one record (fsync'd per SpoolConfig.Sync). It drops
// the oldest segments first if the spool would exceed MaxBytes; a batch
// larger than MaxBytes on its own is dropped and counted. On error nothing
// was appended.
func (s *Spool) Append(b SpoolBatch) error {
	if b.Points() == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSpoolClosed
	}
	now := s.cfg.Now()
	if b.Created.IsZero() {
		b.Created = now
	}
	if b.First.IsZero() && b.Last.IsZero() {
		b.First, b.Last = pointTimes(b.Lines, b.Ends)
	}
	s.buf = appendRecord(s.buf[:0], &b)
	size := int64(len(s.buf))
	if size+int64(len(segMagic)) > s.cfg.MaxBytes {
		s.st.droppedPoints += uint64(b.Points())
		s.log.Warn("spool: a batch is larger than spool-max-bytes; dropped it", "points", b.Points(),
			"bytes", size, "from", b.First.UTC(), "to", b.Last.UTC())
		return nil
	}
	s.expireLocked()
	for len(s.segs) > 0 && s.bytes+size+s.newSegmentCost(size) > s.cfg.MaxBytes {
		s.dropLocked(s.segs[0], "spool-max-bytes")
	}
	if g := s.active; g != nil && g.records > 0 && (g.size+size > s.cfg.SegmentBytes ||
		now.Sub(fromNano(g.minCreated)) >= s.cfg.MaxAge/segmentAges) {
		s.sealLocked(g)
	}
	if s.active == nil {
		if err := s.createLocked(); err != nil {
			return err
		}
	}
	g := s.active
	n, err := s.af.Write(s.buf)
	if err != nil {
		if n > 0 && s.af.Truncate(g.size) != nil {
			s.sealLocked(g) // readers stop at g.size; the next open skips the torn tail
		}
		return fmt.Errorf("spool append: %w", err)
	}
	g.size += size
	s.bytes += size
	g.add(recordInfo{created: unixNano(b.Created), first: unixNano(b.First), last: unixNano(b.Last), points: b.Points()})
	s.st.appended += uint64(b.Points())
	s.st.appendedBatches++
	s.dirty = true
	if s.cfg.Sync == SpoolSyncEveryBatch || (s.cfg.Sync > 0 && now.Sub(s.lastSync) >= s.cfg.Sync) {
		s.syncLocked(now)
	}
	return nil
}

// newSegmentCost is the magic header's size if appending size bytes starts
// a new segment.
func (s *Spool) newSegmentCost(size int64) int64 {
	if g := s.active; g != nil && (g.records == 0 || g.size+size <= s.cfg.SegmentBytes &&
		s.cfg.Now().Sub(fromNano(g.minCreated)) < s.cfg.MaxAge/segmentAges) {
		return 0
	}
	return int64(len(segMagic))
}

// createLocked starts a new active segment.
func (s *Spool) createLocked() error {
	seq := s.nextSeq
	path := filepath.Join(s.cfg.Dir, segName(seq))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", err)
	}
	if _, err := f.Write([]byte(segMagic)); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("spool: create segment: %w", err)
	}
	s.nextSeq++
	if s.cfg.Sync >= 0 {
		// The new file's directory entry must survive a power loss too.
		err := f.Sync()
		if err == nil {
			err = syncDir(s.cfg.Dir)
		}
		if err != nil {
			s.st.syncErrors++
			s.log.Error("spool: fsync of a new segment failed", "file", path, "err", err)
		}
	}
	g := &segment{seq: seq, path: path, size: int64(len(segMagic))}
	s.segs = append(s.segs, g)
	s.active, s.af = g, f
	s.bytes += g.size
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// sealLocked ends appends to g (the active segment).
func (s *Spool) sealLocked(g *segment) {
	g.sealed = true
	if g != s.active {
		return
	}
	if s.dirty && s.cfg.Sync >= 0 {
		s.syncLocked(s.cfg.Now())
	}
	_ = s.af.Close()
	s.active, s.af = nil, nil
}

func (s *Spool) syncLocked(now time.Time) {
	if s.af == nil || !s.dirty {
		s.dirty = false
		return
	}
	if err := s.af.Sync(); err != nil {
		s.st.syncErrors++
		if s.st.syncErrors == 1 || s.st.syncErrors%100 == 0 {
			s.log.Error("spool: fsync failed", "file", s.active.path, "err", err, "failures", s.st.syncErrors)
		}
		return
	}
	s.dirty = false
	s.lastSync = now
}

// Maintain does the deferred fsync of an interval Sync policy when it is
// due and drops segments older than MaxAge. Call it periodically (at
// least every Sync interval).
func (s *Spool) Maintain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	now := s.cfg.Now()
	if s.cfg.Sync > 0 && s.dirty && now.Sub(s.lastSync) >= s.cfg.Sync {
		s.syncLocked(now)
	}
	s.expireLocked()
}

// Sync fsyncs appended data now (unless the policy is SpoolSyncNever).
func (s *Spool) Sync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Sync >= 0 {
		s.syncLocked(s.cfg.Now())
	}
}

// expireLocked drops segments whose newest batch is older than MaxAge.
func (s *Spool) expireLocked() {
	limit := s.cfg.Now().Add(-s.cfg.MaxAge).UnixNano()
	for len(s.segs) > 0 && s.segs[0].records > 0 && s.segs[0].maxCreated != noTime && s.segs[0].maxCreated < limit {
		s.dropLocked(s.segs[0], "spool-max-age")
	}
}

// dropLocked removes segment g because of a bound, counting and logging
// the points lost (those not acknowledged and not handed out: points handed
// out are counted if they are released).
func (s *Spool) dropLocked(g *segment, why string) {
	lost := g.points - g.ackedPoints - s.cur.inHandPoints(g)
	s.st.droppedPoints += uint64(lost)
	s.st.droppedSegments++
	if g.records > 0 {
		s.log.Warn("spool: dropped the oldest spooled data", "bound", why, "points", lost,
			"bytes", g.size, "from", fromNano(g.minTime).UTC(), "to", fromNano(g.maxTime).UTC(),
			"spooled_from", fromNano(g.minCreated).UTC(), "spooled_to", fromNano(g.maxCreated).UTC(),
			"file", g.path)
	}
	s.removeLocked(g)
}

// removeLocked deletes g's file and forgets it.
func (s *Spool) removeLocked(g *segment) {
	g.dropped = true
	if g == s.active {
		_ = s.af.Close()
		s.active, s.af = nil, nil
	}
	s.cur.forget(g)
	if i := slices.Index(s.segs, g); i >= 0 {
		s.segs = slices.Delete(s.segs, i, i+1)
	}
	s.bytes -= g.size
	if err := os.Remove(g.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("spool: cannot remove a segment", "file", g.path, "err", err)
	}
}

// Stats returns a snapshot.
func (s *Spool) Stats() SpoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statsLocked()
}

func (s *Spool) statsLocked() SpoolStats {
	st := SpoolStats{
		Bytes: s.bytes, Segments: len(s.segs),
		Appended: s.st.appended, AppendedBatches: s.st.appendedBatches, Acked: s.st.acked,
		DroppedPoints: s.st.droppedPoints, DroppedSegments: s.st.droppedSegments,
		CorruptRecords: s.st.corruptRecords, CorruptBytes: s.st.corruptBytes,
		SyncErrors: s.st.syncErrors,
	}
	for _, g := range s.segs {
		if g.acked == g.records {
			continue
		}
		st.Points += int64(g.points - g.ackedPoints)
		if t := fromNano(g.minTime); !t.IsZero() && (st.Oldest.IsZero() || t.Before(st.Oldest)) {
			st.Oldest = t
		}
		if t := fromNano(g.minCreated); !t.IsZero() && (st.OldestSpooled.IsZero() || t.Before(st.OldestSpooled)) {
			st.OldestSpooled = t
		}
	}
	return st
}

// probeBytes is what Probe writes: enough to tell a full filesystem from
// one with room for batches.
const probeBytes = 256 << 10

// Probe checks that the spool's directory can be written again after an
// append failed (a full or read-only filesystem); see ProbeDir.
func (s *Spool) Probe() error { return ProbeDir(s.cfg.Dir) }

// ProbeDir checks that a spool directory can be used: it creates it if
// needed, writes probeBytes to a temporary file in it, syncs and removes
// it.
func ProbeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	f, err := os.CreateTemp(dir, "probe-*.tmp")
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, probeBytes))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// Close syncs and closes the files and releases the lock. Data not
// acknowledged stays for the next OpenSpool.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if g := s.active; g != nil {
		if s.dirty && s.cfg.Sync >= 0 {
			if serr := s.af.Sync(); serr != nil {
				err = fmt.Errorf("spool: fsync: %w", serr)
			}
		}
		if cerr := s.af.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("spool: close: %w", cerr)
		}
		s.active, s.af = nil, nil
		if g.records == 0 {
			s.bytes -= g.size
			_ = os.Remove(g.path)
			s.segs = s.segs[:len(s.segs)-1]
		}
	}
	s.cur.close()
	if cerr := s.lock.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("spool: unlock: %w", cerr)
	}
	return err
}
