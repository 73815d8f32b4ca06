package pyrepr

import (
	"math/big"
	"testing"
)

// These white-box tests check the constants of ftoa.go with exact
// arithmetic; the black-box tests compare the digits with strconv.

// pow returns b^e (e may be negative) as an exact rational.
func pow(b int64, e int) *big.Rat {
	p := new(big.Int).Exp(big.NewInt(b), big.NewInt(int64(max(e, -e))), nil)
	if e < 0 {
		return new(big.Rat).SetFrac(big.NewInt(1), p)
	}
	return new(big.Rat).SetInt(p)
}

// isFloorLog reports whether b^k ≤ x < b^(k+1).
func isFloorLog(b int64, k int, x *big.Rat) bool {
	return pow(b, k).Cmp(x) <= 0 && x.Cmp(pow(b, k+1)) < 0
}

func TestFloorLogs(t *testing.T) {
	threeQuarters := big.NewRat(3, 4)
	for q := -1100; q <= 1100; q++ {
		if k := floorLog10Pow2(q); !isFloorLog(10, k, pow(2, q)) {
			t.Errorf("floorLog10Pow2(%d) = %d is not floor(log10(2^%d))", q, k, q)
		}
		x := new(big.Rat).Mul(threeQuarters, pow(2, q))
		if k := floorLog10ThreeQuartersPow2(q); !isFloorLog(10, k, x) {
			t.Errorf("floorLog10ThreeQuartersPow2(%d) = %d is not floor(log10(3/4 × 2^%d))", q, k, q)
		}
	}
	for k := -350; k <= 350; k++ {
		if e := floorLog2Pow10(k); !isFloorLog(2, e, pow(10, k)) {
			t.Errorf("floorLog2Pow10(%d) = %d is not floor(log2(10^%d))", k, e, k)
		}
	}
}

// TestPow10Table checks that every entry g is floor(10^j × 2^t) + 1 with
// t = 127 - floor(log2 10^j), i.e. g-1 ≤ 10^j × 2^t < g, and that it has
// 128 bits; and that the table covers every exponent shortestDecimal asks
// for.
func TestPow10Table(t *testing.T) {
	for j := minPow10; j <= maxPow10; j++ {
		e := pow10Table[j-minPow10]
		g := new(big.Int).Lsh(new(big.Int).SetUint64(e[0]), 64)
		g.Or(g, new(big.Int).SetUint64(e[1]))
		if g.BitLen() != 128 {
			t.Errorf("10^%d: %d bits", j, g.BitLen())
		}
		x := new(big.Rat).Mul(pow(10, j), pow(2, 127-floorLog2Pow10(j)))
		gr := new(big.Rat).SetInt(g)
		g1 := new(big.Rat).SetInt(new(big.Int).Sub(g, big.NewInt(1)))
		if !(g1.Cmp(x) <= 0 && x.Cmp(gr) < 0) {
			t.Errorf("10^%d: entry %#x is not floor(10^j × 2^t) + 1", j, g)
		}
	}
	// Binary exponents of doubles: -1074 (subnormals) to 971.
	for q := -1074; q <= 971; q++ {
		for _, k := range []int{floorLog10Pow2(q), floorLog10ThreeQuartersPow2(q)} {
			if -k < minPow10 || -k > maxPow10 {
				t.Errorf("q=%d needs 10^%d, outside the table", q, -k)
			}
			if h := q + floorLog2Pow10(-k) + 1; h < 1 || h > 4 {
				t.Errorf("q=%d, k=%d: shift %d outside [1, 4]", q, k, h)
			}
		}
	}
}
