package pyrepr

import "math/bits"

//go:generate go run ftoa_gen.go

// Shortest round-trip digits of a float64, written for AppendFloat.
//
// shortestDecimal implements the Schubfach algorithm (R. Giulietti, "The
// Schubfach way to render doubles", 2020). A positive finite double is
// v = c × 2^q with an integer significand c. Every real in its rounding
// interval [cl × 2^q, cr × 2^q] (cl = c - 1/2, or c - 1/4 below a power
// of two, cr = c + 1/2; the bounds included when c is even, as
// round-half-to-even reads them back to v) reads back as v. The shortest
// decimal in that interval, the one nearest to v among those, is found by
// scaling with a power of ten 10^-k chosen so that the interval's width
// (2^q, or 3/4 × 2^q) is at least 10^k but less than 10^(k+1): then the
// interval holds at least one multiple of 10^k and at most one of 10^(k+1).
// So at most two lengths need looking at: the multiples of 10^(k+1) next
// to v (if exactly one of them is inside, it is the answer, up to trailing
// zeros) and else those of 10^k (the one inside, or the nearer of two).
//
// The scaled values 4 × cl × 2^q × 10^-k (and for c, cr) are computed with
// a 128-bit upper approximation g of 10^-k (pow10Table) and rounded to odd:
// the integer part, with its lowest bit set when the fraction is not zero.
// The paper proves that this keeps every comparison exact: the integer
// part is right, and the fraction is non-zero exactly when the true one
// is. The digits of the result are exact integers; no floating-point
// arithmetic is involved.

// float64 layout.
const (
	mantBits = 52
	expBias  = 1075 // v = c × 2^(e - expBias) for a biased exponent e ≥ 1
)

// shortestDecimal returns the shortest decimal d × 10^k that reads back as
// the positive finite float64 with biased exponent exp and mantissa bits
// mant (d may end in zeros; the caller drops them). Of several shortest
// ones it returns the nearest to the double's exact value (there is never
// a tie). This is the choice of Python's repr and of strconv's shortest
// formatting.
func shortestDecimal(mant uint64, exp uint64) (d uint64, k int) {
	c, q := mant, 1-expBias // subnormal
	if exp != 0 {
		c, q = mant|1<<mantBits, int(exp)-expBias
	}
	// Integers below 2^53 are their own shortest representation: any
	// shorter decimal is a multiple of ten at least 1 away, more than half
	// an ulp (at most 1/2).
	if q <= 0 && q >= -mantBits {
		if c&(1<<uint(-q)-1) == 0 {
			return c >> uint(-q), 0
		}
	}

	even := c&1 == 0
	cb := c << 2
	cbr := cb + 2
	var cbl uint64
	if mant == 0 && exp > 1 {
		// A power of two: the double below is half as far as the one
		// above.
		cbl = cb - 1
		k = floorLog10ThreeQuartersPow2(q)
	} else {
		cbl = cb - 2
		k = floorLog10Pow2(q)
	}
	// g ≈ 10^-k × 2^(127 - floor(log2 10^-k)), so (x << h) × g / 2^128 is
	// x × 2^q × 10^-k. h is in [1, 4].
	h := uint(q + floorLog2Pow10(-k) + 1)
	g := &pow10Table[-k-minPow10]
	vbl := roundToOdd(g, cbl<<h)
	vb := roundToOdd(g, cb<<h)
	vbr := roundToOdd(g, cbr<<h)
	// The interval is [vbl, vbr] / 4 scaled, exclusive for odd c.
	if !even {
		vbl++
		vbr--
	}

	s := vb >> 2 // floor(v × 10^-k)
	if s >= 10 {
		// One digit shorter: the multiples of 10^(k+1) around v.
		sp := s / 10
		upIn := vbl <= 40*sp
		wpIn := 40*sp+40 <= vbr
		if upIn != wpIn {
			if wpIn {
				sp++
			}
			return sp, k + 1
		}
	}
	uIn := vbl <= 4*s
	wIn := 4*s+4 <= vbr
	if uIn != wIn {
		if wIn {
			s++
		}
		return s, k
	}
	// Both s and s+1 are inside: the nearer one. vb is odd unless exact,
	// so vb == mid cannot happen for a double (no ties); keep the
	// half-to-even rule for completeness.
	mid := 4*s + 2
	if vb > mid || (vb == mid && s&1 != 0) {
		s++
	}
	return s, k
}

// roundToOdd returns floor(g × cp / 2^128) with its lowest bit set when
// the fraction is not zero (the fraction of the approximation g is ignored
// below 2^-63: see the comment at the top of this file).
func roundToOdd(g *[2]uint64, cp uint64) uint64 {
	xHi, _ := bits.Mul64(g[1], cp)
	yHi, yLo := bits.Mul64(g[0], cp)
	yLo, carry := bits.Add64(yLo, xHi, 0)
	yHi += carry
	if yLo > 1 {
		yHi |= 1
	}
	return yHi
}

// floorLog10Pow2 is floor(q × log10(2)) for |q| ≤ 1100 (checked by
// TestFloorLogs).
func floorLog10Pow2(q int) int { return (q * 78913) >> 18 }

// floorLog10ThreeQuartersPow2 is floor(log10(3/4 × 2^q)) for |q| ≤ 1100.
func floorLog10ThreeQuartersPow2(q int) int { return (q*315653 - 131208) >> 20 }

// floorLog2Pow10 is floor(k × log2(10)) for |k| ≤ 350.
func floorLog2Pow10(k int) int { return (k * 1741646) >> 19 }
