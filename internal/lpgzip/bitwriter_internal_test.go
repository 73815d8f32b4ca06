package lpgzip

import (
	"math/rand/v2"
	"testing"
)

// TestBitWriter writes random codes of 0 to 56 bits through every writer
// (bits, put, putBits, putPair, in random order, as the compressor mixes
// them) and reads the bits back in DEFLATE's order: no write may lose
// bits, whatever was pending before it.
func TestBitWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	type code struct {
		v uint64
		n uint
	}
	var want []code
	var w bitWriter
	w.reset(nil)
	total := 0
	for range 20000 {
		n := uint(rng.IntN(57))
		v := rng.Uint64() & (1<<n - 1)
		w.grow(8)
		switch rng.IntN(4) {
		case 0:
			w.bits(v, n)
		case 1:
			w.acc, w.n, w.o = put(w.out, w.acc, w.n, w.o, v<<8|uint64(n))
		case 2:
			w.acc, w.n, w.o = putBits(w.out, w.acc, w.n, w.o, v, n)
		default:
			a := n / 2
			w.acc, w.n, w.o = putPair(w.out, w.acc, w.n, w.o, (v&(1<<a-1))<<8|uint64(a), (v>>a)<<8|uint64(n-a))
		}
		want = append(want, code{v, n})
		total += int(n)
	}
	out := w.finish()
	if len(out) != (total+7)/8 {
		t.Fatalf("%d bytes for %d bits", len(out), total)
	}
	pos := 0
	for i, c := range want {
		var got uint64
		for k := range c.n {
			bit := uint64(out[pos>>3]>>(pos&7)) & 1
			got |= bit << k
			pos++
		}
		if got != c.v {
			t.Fatalf("code %d (%d bits): read %#x, wrote %#x", i, c.n, got, c.v)
		}
	}
}
