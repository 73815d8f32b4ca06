package feeds

import (
	"math"
	"strconv"
	"time"
)

// AppendFloatRepr appends Python's repr (= str) of f to dst: the shortest
// digits that round-trip; fixed notation when the decimal exponent is in
// [-4, 16), with ".0" added to a whole number; otherwise d[.ddd]e±XX with at
// least two exponent digits; "nan", "inf", "-inf" for non-finite values
// (ocs-protocol.md §6.2, §7.6). Examples: 2.0, 0.0001, 1e-05,
// 1000000000000000.0, 1e+16, 1.5e+300, 1795294463.5561733.
func AppendFloatRepr(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	var scratch [32]byte
	e := strconv.AppendFloat(scratch[:0], f, 'e', -1, 64) // [-]d[.ddd]e±XX
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	mark := 0
	for e[mark] != 'e' {
		mark++
	}
	exp := 0
	for _, c := range e[mark+2:] {
		exp = exp*10 + int(c-'0')
	}
	if e[mark+1] == '-' {
		exp = -exp
	}
	if exp < -4 || exp >= 16 {
		if neg {
			dst = append(dst, '-')
		}
		return append(dst, e...) // Go's 'e' form is Python's here
	}
	// Digits without the point.
	var digitBuf [20]byte
	digits := append(digitBuf[:0], e[0])
	if mark > 1 {
		digits = append(digits, e[2:mark]...)
	}
	if neg {
		dst = append(dst, '-')
	}
	if exp < 0 {
		dst = append(dst, '0', '.')
		for i := -1; i > exp; i-- {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	intLen := exp + 1
	if len(digits) <= intLen {
		dst = append(dst, digits...)
		for i := len(digits); i < intLen; i++ {
			dst = append(dst, '0')
		}
		return append(dst, '.', '0')
	}
	dst = append(dst, digits[:intLen]...)
	dst = append(dst, '.')
	return append(dst, digits[intLen:]...)
}

// FormatFloatRepr returns Python's repr of f (see AppendFloatRepr).
func FormatFloatRepr(f float64) string {
	var buf [32]byte
	return string(AppendFloatRepr(buf[:0], f))
}

// FormatSessionID formats a process start time (Unix seconds) as feed_info's
// session_id: Python str(time.time()), e.g. "1795294463.5561733", and
// "1795294463.0" for a whole number (ocs-protocol.md §6.2; checklist 31).
func FormatSessionID(t float64) string {
	return FormatFloatRepr(t)
}

// SessionIDFromTime is FormatSessionID of t as Python's time.time() gives
// it: Unix nanoseconds / 1e9 as a float64.
func SessionIDFromTime(t time.Time) string {
	return FormatSessionID(float64(t.UnixNano()) / 1e9)
}
