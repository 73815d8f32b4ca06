package wampjson

import (
	"math"
	"strconv"
)

// AppendFloat appends f as Python's repr(float) writes it, which is also
// what Python's json module emits: the shortest text that reads back as the
// same float, always recognisable as a float ("2.0", not "2"), in exponent
// form when the decimal exponent is below -4 or at least 16 ("1e-05",
// "1e+16"), and NaN, Infinity or -Infinity for non-finite values.
func AppendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
	exp := 0
	for i := len(dst) - 1; i > start; i-- {
		if dst[i] == 'e' {
			e, err := strconv.Atoi(string(dst[i+1:]))
			if err == nil {
				exp = e
			}
			break
		}
	}
	if exp < -4 || exp >= 16 {
		return dst // Go's 'e' form matches Python's: 1e+16, 1.5e-05.
	}
	dst = strconv.AppendFloat(dst[:start], f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}
