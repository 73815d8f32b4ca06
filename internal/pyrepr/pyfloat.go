package pyrepr

import (
	"encoding/binary"
	"math"
)

// AppendFloat appends the text Python's repr(float) gives for f to dst and
// returns the extended slice. This is how the Python agent writes float
// fields, so for well-formed input our line protocol is byte-identical to
// its:
//
//   - the digits are the shortest string that reads back as f, the nearest
//     to f of several (Python's repr and Go's strconv.FormatFloat(f, 'e',
//     -1, 64) choose the same digits);
//   - when the decimal exponent e (f = d.ddd × 10^e) is in [-4, 16) the
//     number is written in fixed notation, with ".0" appended when it has no
//     fractional part: 1.5, 2.0, 0.0001, 1000000.0, 9999999999999998.0;
//   - otherwise it is d[.ddd]e±XX with at least two exponent digits:
//     1e-05, 1e+16, 1.5e+300;
//   - zero is 0.0 or -0.0; non-finite values are nan, inf and -inf (never
//     written to InfluxDB: the encoder drops them first).
//
// It allocates nothing when dst has room for the text (at most 24 bytes,
// e.g. -2.2250738585072014e-308); otherwise it grows dst as append does.
// The digits come from our own Schubfach implementation (ftoa.go), which
// the tests compare with strconv on about 6 million chosen and random
// values (and with Python's repr on thousands).
func AppendFloat(dst []byte, f float64) []byte {
	b := math.Float64bits(f)
	exp := (b >> mantBits) & 0x7ff
	mant := b & (1<<mantBits - 1)
	neg := b>>63 != 0
	switch {
	case exp == 0x7ff && mant != 0:
		return append(dst, "nan"...)
	case exp == 0x7ff && neg:
		return append(dst, "-inf"...)
	case exp == 0x7ff:
		return append(dst, "inf"...)
	case exp == 0 && mant == 0 && neg:
		return append(dst, "-0.0"...)
	case exp == 0 && mant == 0:
		return append(dst, "0.0"...)
	}
	d, k := shortestDecimal(mant, exp)

	// The text is built in buf around the 17 zero-padded digits of d at
	// buf[digitsAt:digitsAt+17], then appended in one piece.
	const digitsAt = 8
	var buf [48]byte // the text, and room to copy 24 bytes from its start
	binary.LittleEndian.PutUint64(buf[0:8], zeroChars)
	dg := putDigits17(buf[digitsAt:digitsAt+17], d)
	first := digitsAt + dg.lead        // first significant digit
	end := digitsAt + 17 - dg.trailing // after the last one
	e := k + 17 - dg.lead - 1          // f = d.ddd × 10^e
	var start int                      // of the text, sign excluded
	switch {
	case e < -4 || e >= 16:
		// d[.ddd]e±XX: move the first digit left to make room for the
		// point.
		start = first - 1
		buf[start] = buf[first]
		if end-first > 1 {
			buf[first] = '.'
		} else {
			end = first
		}
		buf[end] = 'e'
		buf[end+1] = '+'
		if e < 0 {
			buf[end+1] = '-'
			e = -e
		}
		end += 2
		if e >= 100 {
			buf[end] = byte('0' + e/100)
			end++
			e %= 100
		}
		buf[end], buf[end+1] = byte('0'+e/10), byte('0'+e%10)
		end += 2
	case e < 0:
		// 0.0ddd: the -e-1 zeros before the digits are padding or
		// buf[0:8].
		start = first + e - 1
		buf[start], buf[start+1] = '0', '.'
	default:
		start = first
		intEnd := first + e + 1
		if intEnd >= end {
			// Integral: ddd000.0 (the zeros are digits or padding
			// after them).
			binary.LittleEndian.PutUint64(buf[digitsAt+17:], zeroChars)
			binary.LittleEndian.PutUint64(buf[digitsAt+25:], zeroChars)
			buf[intEnd], buf[intEnd+1] = '.', '0'
			end = intEnd + 2
		} else {
			// ddd.ddd: move the integer part left.
			start--
			copy(buf[start:intEnd-1], buf[first:intEnd])
			buf[intEnd-1] = '.'
		}
	}
	if neg {
		start--
		buf[start] = '-'
	}
	if n := len(dst); cap(dst)-n >= 24 {
		// Three word moves; append would call memmove.
		out, text := dst[n:n+24], buf[start:start+24]
		binary.LittleEndian.PutUint64(out[0:], binary.LittleEndian.Uint64(text[0:]))
		binary.LittleEndian.PutUint64(out[8:], binary.LittleEndian.Uint64(text[8:]))
		binary.LittleEndian.PutUint64(out[16:], binary.LittleEndian.Uint64(text[16:]))
		return dst[:n+end-start]
	}
	return append(dst, buf[start:end]...)
}
