package pyrepr

import (
	"encoding/binary"
	"math/bits"
)

// zeroChars is eight '0' characters as a little-endian word.
const zeroChars = 0x3030303030303030

// EightDigits returns the eight decimal digits of r < 10^8, leading zeros
// included, as ASCII characters in a little-endian word (the first digit
// in the lowest byte): the two halves r / 10^4 and r % 10^4 looked up in a
// table of the 10 000 four-digit strings (40 KB), which measured faster
// than dividing the lanes of a word in parallel.
func EightDigits(r uint32) uint64 {
	return uint64(quadChars[r/10000]) | uint64(quadChars[r%10000])<<32
}

// quadChars holds the four ASCII digits of 0-9999, the first in the
// lowest byte.
var quadChars = func() (t [10000]uint32) {
	for i := range t {
		t[i] = uint32('0'+i/1000) | uint32('0'+i/100%10)<<8 | uint32('0'+i/10%10)<<16 | uint32('0'+i%10)<<24
	}
	return t
}()

// digits17 holds the decimal digits of a number below 10^17 written with
// putDigits17.
type digits17 struct {
	lead     int // leading '0' characters (padding): the number has 17-lead digits
	trailing int // trailing '0' characters of its digits
}

// putDigits17 writes the 17 decimal digits of d < 10^17, zero-padded on the
// left, to b[0:17] and reports how many of them are leading and trailing
// zeros. d must not be zero.
func putDigits17(b []byte, d uint64) digits17 {
	_ = b[16]
	top := d / 1e16
	rest := d - top*1e16
	mid := rest / 1e8
	lo := uint32(rest - mid*1e8)
	wm := EightDigits(uint32(mid))
	wl := EightDigits(lo)
	b[0] = byte('0' + top)
	binary.LittleEndian.PutUint64(b[1:9], wm)
	binary.LittleEndian.PutUint64(b[9:17], wl)

	var r digits17
	switch {
	case top != 0:
	case mid != 0:
		r.lead = 1 + bits.TrailingZeros64(wm^zeroChars)/8
	default:
		r.lead = 9 + bits.TrailingZeros64(uint64(wl)^zeroChars)/8
	}
	switch {
	case lo != 0:
		r.trailing = bits.LeadingZeros64(wl^zeroChars) / 8
	case mid != 0:
		r.trailing = 8 + bits.LeadingZeros64(wm^zeroChars)/8
	default:
		r.trailing = 16
	}
	return r
}
