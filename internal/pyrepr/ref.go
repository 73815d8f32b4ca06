package pyrepr

import (
	"math"
	"strconv"
)

// AppendFloatStrconv is the strconv-based Python repr that AppendFloat replaced
// (it was 3-4 times slower); the tests use it as the oracle.
func AppendFloatStrconv(dst []byte, f float64) []byte {
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
