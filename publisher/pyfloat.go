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

	// Shortest round-trip digits in scientific form: [-]d[.ddd]e±XX.
	var scratch [32]byte
	s := strconv.AppendFloat(scratch[:0], f, 'e', -1, 64)

	mant := s
	if mant[0] == '-' {
		mant = mant[1:]
	}
	ePos := 0
	for i := len(mant) - 1; i > 0; i-- {
		if mant[i] == 'e' {
			ePos = i
			break
		}
	}
	exp := 0
	for _, c := range mant[ePos+2:] {
		exp = exp*10 + int(c-'0')
	}
	if mant[ePos+1] == '-' {
		exp = -exp
	}
	if exp < -4 || exp >= 16 {
		// Go's 'e' layout already is Python's: 1e-05, 1.5e+300.
		return append(dst, s...)
	}

	if f < 0 {
		dst = append(dst, '-')
	}
	// The significant digits without the decimal point: mant is "d" or
	// "d.ddd" before ePos; at most 17 digits.
	var digits [24]byte
	digits[0] = mant[0]
	n := 1
	if ePos > 1 {
		n += copy(digits[1:], mant[2:ePos])
	}
	d := digits[:n]

	if exp < 0 {
		dst = append(dst, '0', '.')
		for i := 0; i < -exp-1; i++ {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	intDigits := exp + 1
	if len(d) <= intDigits {
		dst = append(dst, d...)
		for i := len(d); i < intDigits; i++ {
			dst = append(dst, '0')
		}
		return append(dst, '.', '0')
	}
	dst = append(dst, d[:intDigits]...)
	dst = append(dst, '.')
	return append(dst, d[intDigits:]...)
}
