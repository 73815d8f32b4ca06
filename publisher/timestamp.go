package publisher

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/influxdata/influxdb1-client/models"

	"github.com/ocsflux/ocsflux/internal/pyrepr"
)

// lineNanos converts a sample time t (Unix seconds) the way the Python
// agent's --protocol line does, int(t * 1e9): the product is computed in
// float64 and truncated toward zero. It reports false when the result is
// not a time InfluxDB 1.x can store: t*1e9 is NaN or ±Inf or beyond int64
// (Python prints "Cannot convert ..." or crashes), or the integer is
// outside [models.MinNanoTime, models.MaxNanoTime] (InfluxDB would reject
// the line).
func lineNanos(t float64) (int64, bool) {
	p := t * 1e9
	// 0x1p63 is exactly 2^63; every float64 below it converts to int64.
	if !(p < 0x1p63 && p >= -0x1p63) { // also catches NaN
		return 0, false
	}
	n := int64(p)
	if n < models.MinNanoTime || n > models.MaxNanoTime {
		return 0, false
	}
	return n, true
}

// Python datetime's range, years 1 to 9999, in Unix seconds.
const (
	minDatetimeSec = -62135596800
	maxDatetimeSec = 253402300799
)

// jsonNanos converts a sample time t the way the Python agent's
// --protocol json does: datetime.fromtimestamp(t) splits t into whole
// seconds and microseconds, rounding the fractional part (computed as
// modf(t)'s fraction times 1e6 in float64) half to even; the influxdb
// client then turns that datetime into integer nanoseconds, so the result
// is always a multiple of 1000. It reports false for NaN, ±Inf, years
// outside 1..9999 (Python raises) and times InfluxDB cannot store.
func jsonNanos(t float64) (int64, bool) {
	if math.IsNaN(t) || math.IsInf(t, 0) {
		return 0, false
	}
	sec, frac := math.Modf(t)
	us := math.RoundToEven(frac * 1e6)
	if us >= 1e6 {
		us -= 1e6
		sec++
	} else if us < 0 {
		us += 1e6
		sec--
	}
	if sec < minDatetimeSec || sec > maxDatetimeSec {
		return 0, false
	}
	// |sec| ≤ 2.6e11, so sec*1e9 may overflow int64: check in seconds.
	const maxSec = models.MaxNanoTime / 1e9 // 9223372036
	s := int64(sec)
	if s > maxSec || s < -maxSec { // InfluxDB's first 0.85 s (1677-09-21) is given up
		return 0, false
	}
	n := s*1e9 + int64(us)*1000
	if (s > 0 && n < 0) || n < models.MinNanoTime || n > models.MaxNanoTime {
		return 0, false
	}
	return n, true
}

// appendTimestamp appends n in decimal, as strconv.AppendInt(dst, n, 10).
// Times from 1970-04-26 (10^16 ns) on, which are 17 to 19 digits long, are
// written eight digits at a time.
func appendTimestamp(dst []byte, n int64) []byte {
	if n < 1e16 {
		return strconv.AppendInt(dst, n, 10)
	}
	u := uint64(n)
	top := u / 1e16 // 1 to 922
	rest := u - top*1e16
	mid := rest / 1e8
	lo := rest - mid*1e8
	var b [19]byte
	b[0], b[1], b[2] = byte('0'+top/100), byte('0'+top/10%10), byte('0'+top%10)
	binary.LittleEndian.PutUint64(b[3:11], pyrepr.EightDigits(uint32(mid)))
	binary.LittleEndian.PutUint64(b[11:19], pyrepr.EightDigits(uint32(lo)))
	start := 0
	if top < 10 {
		start = 2
	} else if top < 100 {
		start = 1
	}
	return append(dst, b[start:]...)
}
