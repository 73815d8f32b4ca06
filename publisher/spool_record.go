package publisher

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"time"
)

// On-disk format of the spool (see Spool).
//
// A segment file <seq>.seg starts with the 8-byte magic segMagic, followed
// by records:
//
//	[0:4]  payload length n, uint32 little-endian
//	[4:8]  CRC-32C (Castagnoli) of the payload, uint32 little-endian
//	[8:8+n] payload
//
// The payload is one batch:
//
//	version   1 byte (recordVersion)
//	created   int64 LE, Unix ns: when the batch was spooled
//	first     int64 LE, Unix ns: earliest point time
//	last      int64 LE, Unix ns: latest point time
//	          (math.MinInt64 where unknown)
//	lines     uvarint: number of lines (points)
//	lengths   one uvarint per line: its length in bytes, '\n' included
//	body      the line protocol, uncompressed, each line ending in '\n'
//
// The line lengths are stored because a string field may hold a raw
// newline: the batch cannot be cut into lines by searching for '\n'.
const (
	segMagic      = "OCSFSPL1"
	recordHeader  = 8
	recordVersion = 1
	// recordMeta is the fixed part of the payload before the line count.
	recordMeta = 1 + 3*8
	// minPayload is the smallest valid payload: meta, a line count of one,
	// one length and a line of at least two bytes ("m f=1\n" is longer).
	minPayload = recordMeta + 1 + 1 + 2
	// maxRecordPayload bounds a payload's length; anything longer is
	// corruption (batches are at most maxBatchBytes).
	maxRecordPayload = 4 * maxBatchBytes
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadRecord is a record whose framing, checksum or payload is invalid.
var errBadRecord = errors.New("corrupt spool record")

// SpoolBatch is one record of the spool: whole lines of line protocol and
// when they were spooled. The Spool copies what Append is given; the slices
// Next fills belong to the caller.
type SpoolBatch struct {
	// Lines is line protocol, every line ending in '\n'.
	Lines []byte
	// Ends holds the end offset in Lines of every line (one per point).
	Ends []int
	// Created is when the batch was spooled (Append sets it if zero).
	Created time.Time
	// First and Last are the earliest and latest point times (Append
	// computes them from the lines if both are zero).
	First, Last time.Time
}

// Points is the number of lines.
func (b *SpoolBatch) Points() int { return len(b.Ends) }

// Reset empties b, keeping its buffers.
func (b *SpoolBatch) Reset() {
	b.Lines, b.Ends = b.Lines[:0], b.Ends[:0]
	b.Created, b.First, b.Last = time.Time{}, time.Time{}, time.Time{}
}

// AddLines appends lines [lo, hi) of buf (with line ends ends) to b.
func (b *SpoolBatch) AddLines(buf []byte, ends []int, lo, hi int) {
	if lo >= hi {
		return
	}
	start := lineStart(ends, lo)
	base := len(b.Lines) - start
	b.Lines = append(b.Lines, buf[start:ends[hi-1]]...)
	for _, e := range ends[lo:hi] {
		b.Ends = append(b.Ends, e+base)
	}
}

// lineStart is the offset of line i.
func lineStart(ends []int, i int) int {
	if i == 0 {
		return 0
	}
	return ends[i-1]
}

// pointTimes returns the earliest and latest timestamps of the lines (the
// last field of each line), zero if none can be read.
func pointTimes(buf []byte, ends []int) (first, last time.Time) {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	start := 0
	for _, e := range ends {
		if ns, ok := lineTime(buf[start:e]); ok {
			lo, hi = min(lo, ns), max(hi, ns)
		}
		start = e
	}
	if lo > hi {
		return time.Time{}, time.Time{}
	}
	return time.Unix(0, lo), time.Unix(0, hi)
}

// lineTime reads the nanosecond timestamp at the end of a line.
func lineTime(line []byte) (int64, bool) {
	i := len(line)
	for i > 0 && (line[i-1] == '\n' || line[i-1] == '\r') {
		i--
	}
	end := i
	for i > 0 && line[i-1] >= '0' && line[i-1] <= '9' {
		i--
	}
	if i == end {
		return 0, false
	}
	neg := i > 0 && line[i-1] == '-'
	var ns int64
	for _, c := range line[i:end] {
		d := int64(c - '0')
		if ns > (math.MaxInt64-d)/10 {
			return 0, false
		}
		ns = ns*10 + d
	}
	if neg {
		ns = -ns
	}
	return ns, true
}

// appendRecord appends the framed record of b to dst.
func appendRecord(dst []byte, b *SpoolBatch) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, recordHeader)...)
	dst = append(dst, recordVersion)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(unixNano(b.Created)))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(unixNano(b.First)))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(unixNano(b.Last)))
	dst = binary.AppendUvarint(dst, uint64(len(b.Ends)))
	prev := 0
	for _, e := range b.Ends {
		dst = binary.AppendUvarint(dst, uint64(e-prev))
		prev = e
	}
	dst = append(dst, b.Lines[:prev]...)
	payload := dst[start+recordHeader:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst
}

// noTime stands for an unknown time on disk (0 is a valid point time).
const noTime = math.MinInt64

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

func fromNano(ns int64) time.Time {
	if ns == noTime {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// minTime and maxTime combine times that may be noTime.
func minTime(a, b int64) int64 {
	if a == noTime {
		return b
	}
	if b == noTime {
		return a
	}
	return min(a, b)
}

func maxTime(a, b int64) int64 {
	if a == noTime {
		return b
	}
	if b == noTime {
		return a
	}
	return max(a, b)
}

// recordInfo is what a record's payload says about it.
type recordInfo struct {
	created, first, last int64
	points               int
}

// checkRecord validates the record at the start of data and returns its
// total size (header included) and summary. data may extend beyond it.
func checkRecord(data []byte) (size int, info recordInfo, err error) {
	if len(data) < recordHeader {
		return 0, info, errBadRecord
	}
	n := binary.LittleEndian.Uint32(data)
	if n < minPayload || n > maxRecordPayload || int(n) > len(data)-recordHeader {
		return 0, info, errBadRecord
	}
	payload := data[recordHeader : recordHeader+int(n)]
	if payload[0] != recordVersion {
		return 0, info, errBadRecord
	}
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(data[4:]) {
		return 0, info, errBadRecord
	}
	info, err = decodePayload(payload, nil)
	return recordHeader + int(n), info, err
}

// decodePayload checks a payload and, if b is not nil, appends its lines
// to b (merging the times: earliest first, latest last, oldest created).
func decodePayload(p []byte, b *SpoolBatch) (recordInfo, error) {
	var info recordInfo
	if len(p) < recordMeta || p[0] != recordVersion {
		return info, errBadRecord
	}
	info.created = int64(binary.LittleEndian.Uint64(p[1:]))
	info.first = int64(binary.LittleEndian.Uint64(p[9:]))
	info.last = int64(binary.LittleEndian.Uint64(p[17:]))
	rest := p[recordMeta:]
	lines, k := binary.Uvarint(rest)
	if k <= 0 || lines == 0 || lines > uint64(len(rest)) {
		return info, errBadRecord
	}
	rest = rest[k:]
	// The lengths come first; the body starts after them.
	lengths := rest
	total := uint64(0)
	for i := uint64(0); i < lines; i++ {
		l, k := binary.Uvarint(rest)
		if k <= 0 || l == 0 {
			return info, errBadRecord
		}
		rest = rest[k:]
		total += l
	}
	if total != uint64(len(rest)) || rest[len(rest)-1] != '\n' {
		return info, errBadRecord
	}
	info.points = int(lines)
	if b == nil {
		return info, nil
	}
	base := len(b.Lines)
	b.Lines = append(b.Lines, rest...)
	off := base
	for i := uint64(0); i < lines; i++ {
		l, k := binary.Uvarint(lengths)
		lengths = lengths[k:]
		off += int(l)
		b.Ends = append(b.Ends, off)
	}
	mergeTimes(b, info)
	return info, nil
}

// mergeTimes widens b's times to include the record's.
func mergeTimes(b *SpoolBatch, info recordInfo) {
	if c := fromNano(info.created); !c.IsZero() && (b.Created.IsZero() || c.Before(b.Created)) {
		b.Created = c
	}
	if f := fromNano(info.first); !f.IsZero() && (b.First.IsZero() || f.Before(b.First)) {
		b.First = f
	}
	if l := fromNano(info.last); !l.IsZero() && (b.Last.IsZero() || l.After(b.Last)) {
		b.Last = l
	}
}

// scanSegment validates every record of a segment's content (after the
// magic) and returns the summary of the valid ones and the corrupt regions
// (offsets relative to data). After a bad record it searches for the next
// valid one, so a corrupt record in the middle loses only itself.
func scanSegment(data []byte) (recs []recordSpan, bad []byteRange) {
	off := 0
	for off < len(data) {
		size, info, err := checkRecord(data[off:])
		if err == nil {
			recs = append(recs, recordSpan{off: off, size: size, info: info})
			off += size
			continue
		}
		next := resync(data, off+1)
		bad = append(bad, byteRange{start: off, end: next})
		off = next
	}
	return recs, bad
}

// resync returns the offset of the next valid record at or after from, or
// len(data). The checksum is computed only where the length and version
// are plausible, so garbage (or zeros) is skipped quickly.
func resync(data []byte, from int) int {
	for i := from; i+recordHeader+minPayload <= len(data); i++ {
		n := binary.LittleEndian.Uint32(data[i:])
		if n < minPayload || n > maxRecordPayload || int(n) > len(data)-i-recordHeader ||
			data[i+recordHeader] != recordVersion {
			continue
		}
		if _, _, err := checkRecord(data[i:]); err == nil {
			return i
		}
	}
	return len(data)
}

// recordSpan is a valid record found by scanSegment.
type recordSpan struct {
	off, size int
	info      recordInfo
}

// byteRange is [start, end) in a segment's content.
type byteRange struct{ start, end int }
