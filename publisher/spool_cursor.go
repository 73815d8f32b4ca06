package publisher

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// cursor is the replay position of a Spool: records are handed out oldest
// first, then acknowledged (deleted when a whole segment is) or released
// (handed out again). Guarded by the Spool's mutex.
type cursor struct {
	seg  *segment // segment being read; nil: the next one with unread records
	off  int64    // file offset of seg's next record
	seek bool     // the reader must be positioned at off

	f       *os.File
	fileSeg *segment // the segment f reads
	r       *bufio.Reader
	hdr     [recordHeader]byte
	buf     []byte // the record read

	inHand []handed

	// look is a record read but not handed out because it did not fit
	// in the caller's batch.
	look               []byte
	lookValid          bool
	lookSeg            *segment
	lookStart, lookEnd int64
	lookInfo           recordInfo
}

// handed is a record handed out and not yet acknowledged.
type handed struct {
	seg    *segment
	start  int64
	points int
}

func (c *cursor) inHandPoints(g *segment) int {
	n := 0
	for _, h := range c.inHand {
		if h.seg == g {
			n += h.points
		}
	}
	return n
}

// forget drops every reference to a removed segment.
func (c *cursor) forget(g *segment) {
	if c.seg == g {
		c.seg = nil
	}
	if c.fileSeg == g {
		_ = c.f.Close()
		c.f, c.fileSeg = nil, nil
	}
	if c.lookSeg == g {
		c.lookValid, c.lookSeg = false, nil
	}
}

func (c *cursor) close() {
	if c.f != nil {
		_ = c.f.Close()
		c.f, c.fileSeg = nil, nil
	}
}

// Unread reports how many records are waiting to be handed out by Next.
func (s *Spool) Unread() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.segs {
		n += g.records - g.handed
	}
	return n
}

// Next appends the oldest record not yet handed out to b (lines, line ends
// and times merged) and reports whether it did. It appends nothing, and
// returns false, when there is none or when b already holds points and the
// record would take it beyond maxPoints points or maxBytes bytes; the
// record is then the next one handed out. The records handed out stay in
// the spool until Ack; Release hands them out again.
//
// When replay has caught up with the segment being appended to, that
// segment is closed and a new one is started by the next Append.
func (s *Spool) Next(b *SpoolBatch, maxPoints, maxBytes int) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrSpoolClosed
	}
	c := &s.cur
	if !c.lookValid {
		ok, err := s.readLocked()
		if err != nil || !ok {
			return false, err
		}
	}
	if b.Points() > 0 && (b.Points()+c.lookInfo.points > maxPoints || len(b.Lines)+len(c.look) > maxBytes) {
		return false, nil
	}
	if _, err := decodePayload(c.look, b); err != nil {
		return false, fmt.Errorf("spool: %w", err) // checked when read; cannot happen
	}
	g := c.lookSeg
	g.handed++
	c.inHand = append(c.inHand, handed{seg: g, start: c.lookStart, points: c.lookInfo.points})
	c.lookValid, c.lookSeg = false, nil
	return true, nil
}

// readLocked reads the next record into c.look; false when none is left.
func (s *Spool) readLocked() (bool, error) {
	c := &s.cur
	for {
		g := c.seg
		if g == nil {
			if g = s.unreadSegmentLocked(); g == nil {
				return false, nil
			}
			if !g.sealed {
				s.sealLocked(g) // replay caught up with the appends
			}
			c.seg, c.off, c.seek = g, int64(len(segMagic)), true
		}
		for _, r := range g.bad {
			if c.off == int64(r.start) {
				c.off, c.seek = int64(r.end), true
			}
		}
		if g.handed >= g.records || c.off >= g.size {
			if g.handed < g.records {
				s.unreadableLocked(g, c.off, io.ErrUnexpectedEOF)
			}
			c.seg = nil
			continue
		}
		if err := s.readRecordLocked(g); err != nil {
			s.unreadableLocked(g, c.off, err)
			c.seg = nil
			continue
		}
		return true, nil
	}
}

// unreadSegmentLocked is the oldest segment with records not handed out.
func (s *Spool) unreadSegmentLocked() *segment {
	for _, g := range s.segs {
		if g.handed < g.records {
			return g
		}
	}
	return nil
}

// readRecordLocked reads the record at c.off of g into c.look.
func (s *Spool) readRecordLocked(g *segment) error {
	c := &s.cur
	if c.fileSeg != g {
		c.close()
		f, err := os.Open(g.path)
		if err != nil {
			return err
		}
		c.f, c.fileSeg, c.seek = f, g, true
		if c.r == nil {
			c.r = bufio.NewReaderSize(f, 256<<10)
		}
	}
	if c.seek {
		if _, err := c.f.Seek(c.off, io.SeekStart); err != nil {
			return err
		}
		c.r.Reset(c.f)
		c.seek = false
	}
	if _, err := io.ReadFull(c.r, c.hdr[:]); err != nil {
		c.seek = true
		return err
	}
	n := int64(binary.LittleEndian.Uint32(c.hdr[:]))
	if n < minPayload || n > maxRecordPayload || c.off+recordHeader+n > g.size {
		c.seek = true
		return errBadRecord
	}
	need := recordHeader + int(n)
	if cap(c.buf) < need {
		c.buf = make([]byte, need)
	}
	rec := c.buf[:need]
	copy(rec, c.hdr[:])
	if _, err := io.ReadFull(c.r, rec[recordHeader:]); err != nil {
		c.seek = true
		return err
	}
	_, info, err := checkRecord(rec)
	if err != nil {
		c.seek = true
		return err
	}
	c.look = rec[recordHeader:] // the payload
	c.lookValid, c.lookSeg, c.lookInfo = true, g, info
	c.lookStart, c.lookEnd = c.off, c.off+recordHeader+n
	c.off = c.lookEnd
	return nil
}

// unreadableLocked gives up on the rest of g, which cannot be read any
// more (it was valid when the spool was opened or appended): its points
// not yet handed out are counted as corrupt and dropped.
func (s *Spool) unreadableLocked(g *segment, off int64, err error) {
	handedPoints := s.cur.inHandPoints(g) + g.ackedPoints
	lost := g.points - handedPoints
	s.st.corruptRecords++
	s.st.droppedPoints += uint64(max(lost, 0))
	s.log.Error("spool: cannot read a segment any more; skipping the rest of it", "file", g.path,
		"offset", off, "points_lost", lost, "err", err)
	g.records, g.points = g.handed, handedPoints
	if g.acked == g.records {
		s.removeLocked(g)
	}
}

// Ack confirms every record handed out by Next (and not released): they
// are written. Segments whose records are all acknowledged are deleted.
func (s *Spool) Ack() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSpoolClosed
	}
	for _, h := range s.cur.inHand {
		g := h.seg
		if g.dropped {
			continue // dropped by a bound while in hand: written anyway
		}
		g.acked++
		g.ackedPoints += h.points
		s.st.acked += uint64(h.points)
		if g.sealed && g.acked == g.records {
			s.removeLocked(g)
		}
	}
	s.cur.inHand = s.cur.inHand[:0]
	return nil
}

// Release hands the records handed out by Next (and not acknowledged) out
// again, oldest first. Records whose segment a bound dropped meanwhile are
// counted as dropped now.
func (s *Spool) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.cur
	if c.lookValid {
		c.seg, c.off, c.seek = c.lookSeg, c.lookStart, true
		c.lookValid, c.lookSeg = false, nil
	}
	repositioned := false
	lost := 0
	for _, h := range c.inHand {
		if h.seg.dropped {
			lost += h.points
			continue
		}
		h.seg.handed--
		if !repositioned {
			c.seg, c.off, c.seek = h.seg, h.start, true
			repositioned = true
		}
	}
	if lost > 0 {
		s.st.droppedPoints += uint64(lost)
		s.log.Warn("spool: data being replayed was dropped by a bound meanwhile", "points", lost)
	}
	if c.seg != nil && c.seg.dropped {
		c.seg = nil
	}
	c.inHand = c.inHand[:0]
}
