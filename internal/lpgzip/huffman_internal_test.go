package lpgzip

import (
	"math/rand/v2"
	"testing"
)

// checkLengths asserts that lens is a complete prefix code within limit
// for the used symbols of freq, and that more frequent symbols never get
// longer codes.
func checkLengths(t *testing.T, name string, freq []uint32, lens []uint8, limit int) {
	t.Helper()
	used := 0
	var kraft uint64
	for i, l := range lens {
		if (freq[i] == 0) != (l == 0) {
			t.Fatalf("%s: symbol %d freq %d has length %d", name, i, freq[i], l)
		}
		if int(l) > limit {
			t.Fatalf("%s: symbol %d length %d > %d", name, i, l, limit)
		}
		if l > 0 {
			used++
			kraft += 1 << (limit - int(l))
		}
	}
	if used >= 2 && kraft != 1<<limit {
		t.Fatalf("%s: Kraft sum %d/%d, want complete", name, kraft, uint64(1)<<limit)
	}
	for i := range freq {
		for j := range freq {
			if freq[i] > freq[j] && freq[j] > 0 && lens[i] > lens[j] {
				t.Fatalf("%s: symbol %d (freq %d) longer than %d (freq %d)", name, i, freq[i], j, freq[j])
			}
		}
	}
}

func TestBuildLengths(t *testing.T) {
	var sc huffScratch
	// Fibonacci frequencies give the deepest trees: they need the limit.
	fib := make([]uint32, 40)
	fib[0], fib[1] = 1, 1
	for i := 2; i < len(fib); i++ {
		fib[i] = fib[i-1] + fib[i-2]
	}
	rng := rand.New(rand.NewPCG(7, 8))
	cases := map[string][]uint32{
		"fibonacci":   fib,
		"one":         {0, 0, 5, 0},
		"two":         {3, 0, 0, 9},
		"uniform 286": make([]uint32, numLitLen),
		"skewed":      make([]uint32, numLitLen),
	}
	for i := range cases["uniform 286"] {
		cases["uniform 286"][i] = 1
		cases["skewed"][i] = 1 + uint32(rng.IntN(1<<uint(rng.IntN(30))))
	}
	for name, freq := range cases {
		for _, limit := range []int{maxCodeBits, maxCLBits, 9} {
			if len(freq) > 1<<limit {
				continue
			}
			lens := make([]uint8, len(freq))
			buildLengths(freq, lens, limit, &sc)
			checkLengths(t, name, freq, lens, limit)
		}
	}
}
