package lpgzip

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
)

// Layout tells the Compressor where the lines of its input and the fields
// of each line end, as the encoder that wrote them knows: with it the
// Compressor aligns a line with its reference field by field instead of
// searching the text for separators (AppendLayout).
//
// A line is cut into segments at the end of each field value: the first
// segment is the series key, the space and the first field; each later one
// a field with its leading comma; the last one the space, the timestamp and
// the newline. For
//
//	m,feed=f a=1.5,b=2i 1700000000000000000\n
//
// the cuts are after "1.5" and after "2i".
type Layout struct {
	// Ends are the end offsets of the lines in the input (one past their
	// '\n'), increasing; the last one is the input's length.
	Ends []int
	// Cuts are the offsets at which the field values of the lines end,
	// increasing, each strictly inside its line (after its start, before
	// its end).
	Cuts []uint32
}

// valid reports whether l describes an input of n bytes.
func (l *Layout) valid(n int) bool {
	if len(l.Ends) == 0 || l.Ends[len(l.Ends)-1] != n || n >= 1<<31 {
		return false
	}
	ci, start := 0, 0
	for _, end := range l.Ends {
		if end <= start {
			return false
		}
		prev := start
		for ci < len(l.Cuts) && int(l.Cuts[ci]) < end {
			if int(l.Cuts[ci]) <= prev {
				return false
			}
			prev = int(l.Cuts[ci])
			ci++
		}
		start = end
	}
	return ci == len(l.Cuts)
}

// AppendLayout is Append for an input whose Layout is known. The output is
// as standard and as exact as Append's; the layout only guides the choice
// of references, and every reference is still checked byte for byte. When
// the layout does not describe src (see Layout), AppendLayout compresses as
// Append does.
//
// Each line is compared with the last line of its series. When that has as
// many fields, segment by segment: the segment's common prefix with the
// reference's same segment (the field key and the leading digits of the
// value, or the leading digits of the timestamp) becomes a back-reference
// and the rest literals. This costs a fraction of Append's scan for
// separators and compresses as well. Other lines are compressed as Append
// does.
func (c *Compressor) AppendLayout(dst, src []byte, l Layout) []byte {
	if !l.valid(len(src)) {
		return c.Append(dst, src)
	}
	c.begin(dst)
	clear(c.refs[:])
	prevStart := -1
	ci := 0
	start := 0
	for _, end := range l.Ends {
		line := src[start:end:len(src)] // run reads on into the rest of src
		cut := ci
		for ci < len(l.Cuts) && int(l.Cuts[ci]) < end {
			ci++
		}
		cuts := l.Cuts[cut:ci]
		c.beginLine(line)
		slot, h := c.seriesSlot(line)
		ref := *slot
		*slot = lineRef{start: start, end: end, cut: int32(cut), ncut: int32(len(cuts)), hash: h}
		if ref.end > 0 && end-ref.start <= windowSize && ref.hash == h && int(ref.ncut) == len(cuts) {
			c.compressSegments(src, start, end, cuts, ref.start, ref.end, l.Cuts[ref.cut:ref.cut+ref.ncut])
		} else {
			// Another series, or other fields: compare as Append does.
			c.compressAgainst(src, start, line, ref, prevStart)
		}
		prevStart = start
		start = end
		c.endLine(line, start < len(src))
	}
	return c.finish(src)
}

// compressSegments emits the line src[start:end], cut at cuts, against the
// reference line src[rstart:rend] cut at rcuts (as many cuts). Segment by
// segment, their common prefix is a back-reference (merged with the
// previous one when that covered its whole segment at the same distance)
// and the rest of the segment literals (litRun).
func (c *Compressor) compressSegments(src []byte, start, end int, cuts []uint32, rstart, rend int, rcuts []uint32) {
	rcuts = rcuts[:len(cuts)] // as many (checked by the caller)
	pendN, pendD := 0, 0      // a back-reference not emitted yet
	a, ra := start, rstart
	for s := 0; s <= len(cuts); s++ {
		b, rb := end, rend
		if s < len(cuts) {
			b, rb = int(cuts[s]), int(rcuts[s])
		}
		n := commonPrefix(src[a:b], src[ra:rb])
		switch {
		case pendN > 0 && a-ra == pendD:
			pendN += n // n may be 0
		case n >= minRef:
			if pendN > 0 {
				c.ref(pendN, pendD)
			}
			pendN, pendD = n, a-ra
		default:
			n = 0
		}
		i := a + n
		a, ra = b, rb
		if i == b {
			continue
		}
		if pendN > 0 {
			c.ref(pendN, pendD)
			pendN = 0
		}
		c.countLits(src[i:b])
		c.litRun(src, i, b)
	}
	if pendN > 0 {
		c.ref(pendN, pendD)
	}
}

// ref emits a back-reference of n ≥ minMatch bytes at distance d, its
// length and distance in one write (at most 48 bits) when n ≤ maxMatch,
// else through match. It counts the symbols when counting.
func (c *Compressor) ref(n, d int) {
	if n > maxMatch {
		c.match(n, d)
		return
	}
	dc := distCode(d)
	if c.counting {
		c.lit[endOfBlock+1+int(lengthCode[n-minMatch])]++
		c.dist[dc]++
	}
	ds := c.distSym[dc]
	dl := ds & 0xff
	dist := ds>>8 | uint64(d-int(distBase[dc]))<<dl
	l := c.lenCode[n]
	w := &c.w
	w.acc, w.n, w.o = putBits(w.out, w.acc, w.n, w.o, l>>8|dist<<(l&0xff), uint(l&0xff+dl+uint64(distExtra[dc])))
}

// litRun emits src[i:e] as literals, reading eight bytes at a time from
// src (also past e). A run of at most 16 digits (the rest of a float or
// of a timestamp after the common prefix) is coded as groups of at most
// four digits, each with one lookup in digitCode, two groups per write.
// Other runs go eight bytes at a time: the digits they start with, as two
// such groups, then the byte after the digits if it is in the word and the
// run, the three in one write. It does not count the literals.
func (c *Compressor) litRun(src []byte, i, e int) {
	if !c.fastDigits {
		c.codeLits(src[i:e])
		return
	}
	w := &c.w
	acc, n, out, o := w.acc, w.n, w.out, w.o
	digits := &c.digitCode
	if l := e - i; l <= 8 && i+8 <= len(src) {
		x := binary.LittleEndian.Uint64(src[i:])
		if nonDigits(x)&lowBytes(l) == 0 {
			k := min(l, 4)
			w.acc, w.n, w.o = putPair(out, acc, n, o, digits[digitIndex(uint32(x), k)], digits[digitIndex(uint32(x>>32), l-k)])
			return
		}
	} else if l <= 16 && i+16 <= len(src) {
		x0 := binary.LittleEndian.Uint64(src[i:])
		x1 := binary.LittleEndian.Uint64(src[i+8:])
		k := l - 8
		if nonDigits(x0)|nonDigits(x1)&lowBytes(k) == 0 {
			k1 := min(k, 4)
			acc, n, o = putPair(out, acc, n, o, digits[digitIndex(uint32(x0), 4)], digits[digitIndex(uint32(x0>>32), 4)])
			w.acc, w.n, w.o = putPair(out, acc, n, o, digits[digitIndex(uint32(x1), k1)], digits[digitIndex(uint32(x1>>32), k-k1)])
			return
		}
	}
	for i < e && i+8 <= len(src) {
		x := binary.LittleEndian.Uint64(src[i:])
		rem := e - i
		nd := min(bits.TrailingZeros64(nonDigits(x))>>3, rem)
		k1 := min(nd, 4)
		e1 := digits[digitIndex(uint32(x), k1)]
		e2 := digits[digitIndex(uint32(x>>32), nd-k1)]
		more := 0
		if nd < rem && nd < 8 {
			more = 1
		}
		e3 := c.litCode[byte(x>>(8*uint(nd&7)))] & -uint64(more)
		acc, n, o = put(out, acc, n, o, join(join(e1, e2), e3))
		i += nd + more
	}
	w.acc, w.n, w.o = acc, n, o
	c.codeLits(src[i:e])
}

// codeLits emits b byte by byte, without counting.
func (c *Compressor) codeLits(b []byte) {
	for _, ch := range b {
		c.w.code(c.litCode[ch])
	}
}

// putPair is put for entry a followed by entry b (at most 56 bits in
// all), without joining them into one entry first.
func putPair(out []byte, acc uint64, n uint, o int, a, b uint64) (uint64, uint, int) {
	la := uint(a & 0xff)
	return putBits(out, acc, n, o, a>>8|(b>>8)<<la, la+uint(b&0xff))
}

// putBits writes the low nb ≤ 56 bits of v after the n < 8 pending bits
// acc, storing whole bytes at out[o:] without a branch, and returns the new
// state.
func putBits(out []byte, acc uint64, n uint, o int, v uint64, nb uint) (uint64, uint, int) {
	acc |= v << n
	n += nb
	binary.LittleEndian.PutUint64(out[o:], acc)
	k := n >> 3
	return acc >> (k << 3), n & 7, o + int(k)
}

// lowBytes is a mask of the low k ≤ 8 bytes of a word.
func lowBytes(k int) uint64 { return ^uint64(0) >> (64 - 8*uint(k)) }

// digitIndex is the index in Compressor.digitCode of the k ≤ 4 ASCII
// digits in the low bytes of x (the first in the lowest): they are read as
// the last k digits of a four-digit number 0..0d..d.
func digitIndex(x uint32, k int) int {
	y := (x & 0x0f0f0f0f) << (32 - 8*uint(k))
	y = (y*10 + y>>8) & 0x00ff00ff
	return digitBase[k] + int((y&0xff)*100+y>>16)
}

// digitBase is where the codes of groups of 0, 1, 2, 3 and 4 digits start
// in Compressor.digitCode: 111...1, k ones (the empty group is entry 0,
// which has no bits).
var digitBase = [5]int{0, 1, 11, 111, 1111}

// nonDigits sets the high bit of each byte of x that is not an ASCII
// digit.
func nonDigits(x uint64) uint64 {
	const lo7, hi = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	v := x ^ 0x3030303030303030 // a digit byte becomes 0-9
	// 10 or more sets the high bit (no carry between bytes: at most
	// 0x7f + 0x76).
	return ((v & lo7) + 0x7676767676767676 | v) & hi
}

// finish ends the last block and the gzip member of src.
func (c *Compressor) finish(src []byte) []byte {
	c.w.grow(16)
	c.w.code(c.eobCode)
	// An empty final block with fixed codes: BFINAL=1, BTYPE=01, then the
	// end-of-block code (seven zero bits).
	c.w.bits(1|1<<1, 3)
	c.w.bits(0, 7)
	dst := c.w.finish()
	c.w = bitWriter{}

	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], crc32.ChecksumIEEE(src))
	binary.LittleEndian.PutUint32(trailer[4:], uint32(len(src)))
	return append(dst, trailer[:]...)
}
