package publisher

import (
	"math"
	"strconv"
)

// AppendPyFloat appends the text Python's repr(float) gives for f to dst and
// returns the extended slice. This is how the Python agent writes float
// fields, so for well-formed input our line protocol is byte-identical to
// its:
//
//   - the digits are the shortest string that reads back as f (Go's 'e'
//     format with precision -1 and Python's repr choose the same digits);
//   - when the decimal exponent e (f = d.ddd × 10^e) is in [-4, 16) the
//     number is written in fixed notation, with ".0" appended when it has no
//     fractional part: 1.5, 2.0, 0.0001, 1000000.0, 9999999999999998.0;
//   - otherwise it is d[.ddd]e±XX with at least two exponent digits:
//     1e-05, 1e+16, 1.5e+300;
//   - zero is 0.0 or -0.0; non-finite values are nan, inf and -inf (never
//     written to InfluxDB: the encoder drops them first).
//
// It allocates nothing.
func AppendPyFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}

	// Python switches to exponent notation when the decimal exponent of
	// the shortest digits is below -4 or 16 or more. Comparing |f| with
	// the doubles 1e-4 and 1e16 decides the same: 1e16 is exact, and no
	// double on the other side of 1e-4's nearest double has shortest
	// digits on this side. Go's 'f' and 'e' layouts with precision -1 then
	// are Python's, except that Python adds ".0" to integral values.
	if a := math.Abs(f); a >= 1e-4 && a < 1e16 {
		dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
		if f == math.Trunc(f) {
			dst = append(dst, '.', '0')
		}
		return dst
	}
	return strconv.AppendFloat(dst, f, 'e', -1, 64)
}
