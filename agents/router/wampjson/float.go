package wampjson

import (
	"math"

	"github.com/ocsflux/ocsflux/internal/pyrepr"
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
	return pyrepr.AppendFloat(dst, f)
}
