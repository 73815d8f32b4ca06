package lpgzip

import (
	"encoding/binary"
	"math/bits"
)

// compressLine emits line, comparing it with ref, an earlier part of the
// input starting dist bytes before line (ref may extend past the earlier
// line; only bytes before line are referenced).
//
// Both are walked together: a shared run of at least minRef bytes becomes a
// back-reference; otherwise the bytes up to the next separator in line are
// literals (a value that changed), and ref skips to its own next separator
// to stay aligned field by field.
func (c *Compressor) compressLine(line, ref []byte, dist int) {
	ref = ref[:min(len(ref), dist)] // never reference line itself
	i, j := 0, 0
	matched := false // line[i] != ref[j] is known: the last match ended here
	for i < len(line) {
		if j < len(ref) && !matched {
			if n := commonPrefix(line[i:], ref[j:]); n >= minRef {
				c.ref(n, dist+i-j)
				i += n
				j += n
				matched = true
				continue
			}
		}
		matched = false
		if !sep[line[i]] {
			i = c.run(line, i)
			j = nextSep(ref, j)
			continue
		}
		// line is at a separator, ref is not (or they differ after it).
		if j < len(ref) && !sep[ref[j]] {
			j = nextSep(ref, j)
			if n := commonPrefix(line[i:], ref[j:]); n >= minRef {
				c.ref(n, dist+i-j)
				i += n
				j += n
				continue
			}
		}
		c.literal(line[i])
		i++
		j++
	}
}

// literals emits line without references.
func (c *Compressor) literals(line []byte) {
	for i := 0; i < len(line); {
		if sep[line[i]] {
			c.literal(line[i])
			i++
			continue
		}
		i = c.run(line, i)
	}
}

// nextSep returns the index of the first separator in b at or after j, or
// len(b). It tests eight bytes at a time.
func nextSep(b []byte, j int) int {
	for j+8 <= len(b) {
		if m := sepMask(binary.LittleEndian.Uint64(b[j:])); m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
		j += 8
	}
	for j < len(b) && !sep[b[j]] {
		j++
	}
	return j
}

// sepMask sets the high bit of every byte of x (little endian) that is a
// separator, and possibly of bytes after the first one: the lowest set bit
// is exact.
func sepMask(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	a := x ^ (',' * lo)
	b := x ^ (' ' * lo)
	c := x ^ ('=' * lo)
	d := x ^ ('\n' * lo)
	return ((a-lo)&^a | (b-lo)&^b | (c-lo)&^c | (d-lo)&^d) & hi
}

// commonPrefix returns the length of the common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := 0
	for len(a)-n >= 8 && len(b)-n >= 8 {
		x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:])
		if x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		n += 8
	}
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// run emits the literals of line from i (not a separator) up to the next
// separator and returns the index of that separator (or len(line)).
func (c *Compressor) run(line []byte, i int) int {
	end := nextSep(line, i)
	c.countLits(line[i:end])
	// litRun reads eight bytes at a time, also past the run: line's
	// capacity is the rest of the input (Append and AppendLayout slice
	// it so).
	c.litRun(line[:cap(line)], i, end)
	return end
}

// countLits counts the literals b when sampling.
func (c *Compressor) countLits(b []byte) {
	if c.counting {
		for _, ch := range b {
			c.lit[ch]++
		}
	}
}

// put writes the code table entry e (see Compressor) after the n < 8
// pending bits acc, storing whole bytes at out[o:] without a branch, and
// returns the new state. A code adds at most 56 bits.
func put(out []byte, acc uint64, n uint, o int, e uint64) (uint64, uint, int) {
	return putBits(out, acc, n, o, e>>8, uint(e&0xff))
}

// literal emits one literal byte.
func (c *Compressor) literal(b byte) {
	if c.counting {
		c.lit[b]++
	}
	c.w.code(c.litCode[b])
}

// match emits a back-reference of n ≥ minMatch bytes at distance d,
// split into pieces of at most maxMatch bytes.
func (c *Compressor) match(n, d int) {
	dc := distCode(d)
	extraBits := uint(distExtra[dc])
	distBits := (c.distSym[dc] >> 8) | uint64(d-int(distBase[dc]))<<(c.distSym[dc]&0xff)
	distLen := uint(c.distSym[dc]&0xff) + extraBits
	for n > 0 {
		l := n
		if l > maxMatch {
			l = maxMatch
			if n-l < minMatch {
				l = n - minMatch
			}
		}
		if c.counting {
			c.lit[endOfBlock+1+int(lengthCode[l-minMatch])]++
			c.dist[dc]++
		}
		c.w.code(c.lenCode[l])
		c.w.bits(distBits, distLen)
		n -= l
	}
}
