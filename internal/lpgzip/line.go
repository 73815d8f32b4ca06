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
				c.match(n, dist+i-j)
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
				c.match(n, dist+i-j)
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
	c.lits(line[i:end])
	return end
}

// lits emits b as literals. Runs of four and of two digits are coded with
// one table lookup each.
func (c *Compressor) lits(b []byte) {
	if c.counting || c.quadCode == nil {
		c.litsSlow(b)
		return
	}
	w := &c.w
	acc, n, out, o := w.acc, w.n, w.out, w.o
	quads := c.quadCode[:10000]
	for len(b) > 0 {
		// Eight digits: two quads.
		for len(b) >= 8 {
			x := binary.LittleEndian.Uint64(b)
			if x&0xf0f0f0f0f0f0f0f0 != 0x3030303030303030 || (x&0x0f0f0f0f0f0f0f0f+0x0606060606060606)&0xf0f0f0f0f0f0f0f0 != 0 {
				break
			}
			// Lanes d0*10+d1, d2*10+d3, ... then d0d1d2d3 and d4d5d6d7.
			y := x & 0x0f0f0f0f0f0f0f0f
			y = (y*10 + y>>8) & 0x00ff00ff00ff00ff
			e1 := quads[(y&0xff)*100+(y>>16)&0xff]
			e2 := quads[((y>>32)&0xff)*100+(y>>48)&0xff]
			acc, n, o = put(out, acc, n, o, e1)
			acc, n, o = put(out, acc, n, o, e2)
			b = b[8:]
		}
		if len(b) == 0 {
			break
		}
		var e uint64
		switch {
		case len(b) >= 4 && isDigits4(binary.LittleEndian.Uint32(b)):
			y := binary.LittleEndian.Uint32(b) & 0x0f0f0f0f
			y = (y*10 + y>>8) & 0x00ff00ff
			e = quads[(y&0xff)*100+y>>16]
			b = b[4:]
		case len(b) >= 2 && b[0]-'0' < 10 && b[1]-'0' < 10:
			e = c.digitCode[digitBase[2]+int(b[0]-'0')*10+int(b[1]-'0')]
			b = b[2:]
		default:
			e = c.litCode[b[0]]
			b = b[1:]
		}
		acc, n, o = put(out, acc, n, o, e)
	}
	w.acc, w.n, w.o = acc, n, o
}

// put writes the code table entry e (see Compressor) after the n < 8
// pending bits acc, storing whole bytes at out[o:] without a branch, and
// returns the new state. A code adds at most 56 bits.
func put(out []byte, acc uint64, n uint, o int, e uint64) (uint64, uint, int) {
	return putBits(out, acc, n, o, e>>8, uint(e&0xff))
}

// isDigits4 reports whether the four bytes of x are ASCII digits.
func isDigits4(x uint32) bool {
	return x&0xf0f0f0f0 == 0x30303030 && (x&0x0f0f0f0f+0x06060606)&0xf0f0f0f0 == 0
}

// litsSlow emits b byte by byte, counting the literals when sampling.
func (c *Compressor) litsSlow(b []byte) {
	for _, ch := range b {
		c.literal(ch)
	}
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
