package lpgzip

import (
	"bytes"
	"encoding/binary"
)

// Tuning. The Huffman tables are built from the symbol counts of the data
// compressed before, and kept for a period of input (across calls): every
// call writes them in the header of its block, and a new period starts a
// new block. The first period of a Compressor's life uses a prior and is
// short. Symbols are counted in the first sampleBytes of a period only.
const (
	firstPeriod = 16 << 10 // input coded with the prior's tables
	tablePeriod = 1 << 20  // input coded with one set of tables
	sampleBytes = 64 << 10 // input counted per period
	minRef      = 4        // shortest back-reference emitted
	seriesSlots = 256      // series remembered per call
	headerBytes = 400      // more than a block header takes
)

// Compressor gzips line protocol. The zero value is ready to use. It keeps
// the symbol statistics of what it compressed to build the next tables, so
// reuse one Compressor for a stream of batches. A Compressor is not safe
// for concurrent use.
type Compressor struct {
	stats     [numLitLen + numDist]uint32 // decayed counts, lit/len then dist
	hasTables bool
	since     int  // input bytes coded with the current tables
	period    int  // ... after which new tables are built
	counting  bool // counting symbols (since < sampleBytes)

	// Counts of the current period.
	lit  [numLitLen]uint32
	dist [numDist]uint32

	// Codes of the current block: the bits shifted left by 8, their
	// number (at most 56) in the low 8 bits.
	litCode   [256]uint64
	digitCode [11111]uint64 // groups of 0-4 digits (see digitBase), when fastDigits
	// fastDigits: two groups of four digits and any literal fit in one
	// code of at most 56 bits, and digitCode is built (litRun,
	// compressSegments).
	fastDigits bool
	lenCode    [maxMatch + 1]uint64 // length symbol + extra bits, by length
	distSym    [numDist]uint64      // distance symbol only; extra bits added
	eobCode    uint64

	lens    [numLitLen + numDist]uint8
	codes   [numLitLen + numDist]uint16
	freq    [numLitLen + numDist]uint32
	scratch huffScratch

	refs [seriesSlots]lineRef // the last line of a series, by hash (seriesSlot)

	w bitWriter
}

// sep marks the bytes at which a line's values end: field and tag
// separators, the space before the fields and the timestamp, the newline.
var sep = func() (t [256]bool) {
	for _, c := range []byte{',', ' ', '=', '\n'} {
		t[c] = true
	}
	return t
}()

// Append appends to dst one gzip member holding src and returns the
// extended slice.
func (c *Compressor) Append(dst, src []byte) []byte {
	c.begin(dst)
	clear(c.refs[:])
	prevStart := -1
	for pos := 0; pos < len(src); {
		end := pos + indexNewline(src[pos:]) + 1
		line := src[pos:end:len(src)] // run reads on into the rest of src
		c.beginLine(line)
		slot, h := c.seriesSlot(line)
		ref := *slot
		*slot = lineRef{start: pos, end: end, hash: h}
		c.compressAgainst(src, pos, line, ref, prevStart)
		prevStart = pos
		pos = end
		c.endLine(line, pos < len(src))
	}
	return c.finish(src)
}

// begin starts a gzip member after dst and its first block.
func (c *Compressor) begin(dst []byte) {
	// Header: magic, CM=8 (deflate), no flags, no mtime, no extra flags,
	// OS unknown (255).
	dst = append(dst, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255)
	c.w.reset(dst)
	if !c.hasTables {
		c.buildTables()
	}
	c.w.grow(headerBytes)
	c.writeHeader()
}

// beginLine makes room for the codes of line and decides whether its
// symbols are counted.
func (c *Compressor) beginLine(line []byte) {
	c.w.grow(2*len(line) + 16) // a literal takes at most 15 bits
	c.counting = c.since < sampleBytes
}

// endLine accounts for line, coded, and starts a block with new tables at
// the end of a period if more input follows.
func (c *Compressor) endLine(line []byte, more bool) {
	c.since += len(line)
	if c.since >= c.period && more {
		c.w.code(c.eobCode)
		c.buildTables()
		c.w.grow(headerBytes)
		c.writeHeader()
	}
}

// indexNewline is the index of the first '\n' in b, or len(b)-1 when there
// is none (the last line without a newline).
func indexNewline(b []byte) int {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return i
	}
	return len(b) - 1
}

// lineRef is a line of the input, remembered as the last of its series.
type lineRef struct {
	start, end int    // the line, src[start:end]; end is 0 for none
	cut, ncut  int32  // its cuts, Layout.Cuts[cut:cut+ncut] (AppendLayout)
	hash       uint64 // of its series key
}

// seriesSlot returns the slot of line's series key (the bytes before the
// first space) in refs, and the key's hash. The slot holds the last line
// of the series (end 0 if none; another series' when their hashes share
// the slot).
func (c *Compressor) seriesSlot(line []byte) (*lineRef, uint64) {
	key := line
	if i := bytes.IndexByte(line, ' '); i >= 0 {
		key = line[:i]
	}
	h := seriesHash(key)
	return &c.refs[h>>56], h
}

// compressAgainst emits line (at pos) compared with ref, the last line of
// its series slot, if it is within the window, else with the previous
// line (at prevStart, -1 if none), else as literals.
func (c *Compressor) compressAgainst(src []byte, pos int, line []byte, ref lineRef, prevStart int) {
	switch end := pos + len(line); {
	case ref.end > 0 && end-ref.start <= windowSize:
		c.compressLine(line, src[ref.start:], pos-ref.start)
	case prevStart >= 0 && end-prevStart <= windowSize:
		c.compressLine(line, src[prevStart:], pos-prevStart)
	default:
		c.literals(line)
	}
}

// seriesHash hashes every byte of a series key (keys often differ in one
// character in the middle: fake-data1, fake-data2). Its top byte picks a
// series slot.
func seriesHash(key []byte) uint64 {
	const m = 0x9e3779b97f4a7c15
	h := uint64(len(key))
	for len(key) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(key)) * m
		h ^= h >> 29
		key = key[8:]
	}
	var tail uint64
	for i, ch := range key {
		tail |= uint64(ch) << (8 * i)
	}
	return (h ^ tail) * m
}
