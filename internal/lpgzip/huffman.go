package lpgzip

import (
	"math/bits"
	"slices"
)

// buildLengths sets lens[i] to the length of the Huffman code of symbol i
// for the frequencies freq, no code longer than limit bits. Symbols of
// frequency 0 get no code (length 0). A single used symbol gets length 1.
// The code is complete (Kraft sum exactly 1) when two or more symbols are
// used. freq and lens have the same length, at most 2^limit symbols.
func buildLengths(freq []uint32, lens []uint8, limit int, scratch *huffScratch) {
	clear(lens)
	syms := scratch.syms[:0]
	for i, f := range freq {
		if f > 0 {
			syms = append(syms, uint16(i))
		}
	}
	switch len(syms) {
	case 0:
		return
	case 1:
		lens[syms[0]] = 1
		return
	}
	// Ascending frequency; ties by symbol so the result is deterministic.
	slices.SortFunc(syms, func(a, b uint16) int {
		if freq[a] != freq[b] {
			if freq[a] < freq[b] {
				return -1
			}
			return 1
		}
		return int(a) - int(b)
	})
	scratch.syms = syms

	// Two-queue Huffman: leaves in syms order, internal nodes in creation
	// order (their weights never decrease). depth[] counts, per tree
	// depth, the leaves found at that depth.
	n := len(syms)
	w := scratch.weight[:0]
	parent := scratch.parent[:0]
	for _, s := range syms {
		w = append(w, uint64(freq[s]))
		parent = append(parent, 0)
	}
	leaf, node := 0, n
	pick := func() int {
		if leaf < n && (node >= len(w) || w[leaf] <= w[node]) {
			leaf++
			return leaf - 1
		}
		node++
		return node - 1
	}
	for len(w) < 2*n-1 {
		a := pick()
		b := pick()
		w = append(w, w[a]+w[b])
		parent = append(parent, 0)
		parent[a], parent[b] = int32(len(w)-1), int32(len(w)-1)
	}
	// Depths: the root (last node) has depth 0; parents come after their
	// children, so walk backwards.
	depth := scratch.depth[:0]
	for range w {
		depth = append(depth, 0)
	}
	var count [maxCodeBits + 2]int // leaves per length; longer ones clamp
	maxLen := 0
	for i := len(w) - 2; i >= 0; i-- {
		depth[i] = depth[parent[i]] + 1
		if i < n {
			d := int(depth[i])
			if d > maxLen {
				maxLen = d
			}
			count[min(d, limit+1)]++
		}
	}
	scratch.weight, scratch.parent, scratch.depth = w, parent, depth

	if maxLen > limit {
		// Move the too-long leaves to length limit, then lengthen shorter
		// codes until the Kraft sum is 1 again.
		count[limit] += count[limit+1]
		count[limit+1] = 0
		var kraft uint64
		for l := 1; l <= limit; l++ {
			kraft += uint64(count[l]) << (limit - l)
		}
		for kraft > 1<<limit {
			count[limit]--
			for l := limit - 1; l > 0; l-- {
				if count[l] > 0 {
					count[l]--
					count[l+1] += 2
					break
				}
			}
			kraft--
		}
	}
	// The most frequent symbols get the shortest codes.
	k := n - 1
	for l := 1; l <= limit; l++ {
		for c := count[l]; c > 0; c-- {
			lens[syms[k]] = uint8(l)
			k--
		}
	}
}

// huffScratch is buildLengths' reusable memory.
type huffScratch struct {
	syms   []uint16
	weight []uint64
	parent []int32
	depth  []uint16
}

// canonicalCodes sets codes[i] to the canonical code of length lens[i]
// (RFC 1951 §3.2.2), bit-reversed for an LSB-first bit writer.
func canonicalCodes(lens []uint8, codes []uint16) {
	var count [maxCodeBits + 1]uint16
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	var next [maxCodeBits + 1]uint16
	code := uint16(0)
	for l := 1; l <= maxCodeBits; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	for i, l := range lens {
		if l == 0 {
			codes[i] = 0
			continue
		}
		codes[i] = bits.Reverse16(next[l]) >> (16 - l)
		next[l]++
	}
}
