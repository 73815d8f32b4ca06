package feeds

import (
	"time"

	"github.com/ocsflux/ocsflux/internal/pyrepr"
)

// AppendFloatRepr appends Python's repr (= str) of f to dst: the shortest
// digits that round-trip; fixed notation when the decimal exponent is in
// [-4, 16), with ".0" added to a whole number; otherwise d[.ddd]e±XX with at
// least two exponent digits; "nan", "inf", "-inf" for non-finite values
// (ocs-protocol.md §6.2, §7.6). Examples: 2.0, 0.0001, 1e-05,
// 1000000000000000.0, 1e+16, 1.5e+300, 1795294463.5561733.
func AppendFloatRepr(dst []byte, f float64) []byte { return pyrepr.AppendFloat(dst, f) }

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
