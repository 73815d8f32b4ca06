package lpgzip

import "slices"

// bitWriter writes DEFLATE's LSB-first bit stream into a slice whose
// capacity reset sized for the worst case, eight bytes at a time.
type bitWriter struct {
	acc uint64
	n   uint // bits in acc, < 8 between writes
	out []byte
	o   int // bytes of out written
}

// reset starts writing after dst.
func (w *bitWriter) reset(dst []byte) {
	w.out = dst[:cap(dst)]
	w.o = len(dst)
	w.acc, w.n = 0, 0
}

// grow makes room for n more bytes of output, plus the eight bytes a
// flush stores at once.
func (w *bitWriter) grow(n int) {
	if w.o+n+8 <= len(w.out) {
		return
	}
	grown := make([]byte, max(2*len(w.out), w.o+n+8+4096))
	copy(grown, w.out[:w.o])
	w.out = grown
}

// code writes an entry of the code tables: bits above the low 8, length
// in the low 8.
func (w *bitWriter) code(e uint64) { w.bits(e>>8, uint(e&0xff)) }

// bits writes the low n ≤ 56 bits of v. Like every write (putBits), it
// leaves fewer than 8 bits pending, so that the next write of up to 56
// bits fits the 64-bit accumulator.
func (w *bitWriter) bits(v uint64, n uint) {
	w.acc, w.n, w.o = putBits(w.out, w.acc, w.n, w.o, v, n)
}

// finish flushes the last partial byte and returns the output.
func (w *bitWriter) finish() []byte {
	for w.n > 0 {
		w.out[w.o] = byte(w.acc)
		w.o++
		w.acc >>= 8
		w.n = w.n - min(w.n, 8)
	}
	return w.out[:w.o]
}

// buildTables folds the counts of the period that ends into the
// statistics (halving the older ones), builds the codes of the next period
// from them, and clears the counts.
func (c *Compressor) buildTables() {
	if !c.hasTables {
		c.stats = prior
		c.period = firstPeriod
	} else {
		for i := range c.stats {
			var n uint32
			if i < numLitLen {
				n = c.lit[i]
			} else {
				n = c.dist[i-numLitLen]
			}
			c.stats[i] = c.stats[i]/2 + min(n, 1<<30)
		}
		c.period = tablePeriod
	}
	c.hasTables = true
	c.since = 0
	clear(c.lit[:])
	clear(c.dist[:])

	// Every symbol gets a code, so that any byte and any reference can be
	// coded before the statistics have seen it.
	for i, s := range c.stats {
		c.freq[i] = s + 1
	}
	lit, dst := c.lens[:numLitLen], c.lens[numLitLen:]
	buildLengths(c.freq[:numLitLen], lit, maxCodeBits, &c.scratch)
	buildLengths(c.freq[numLitLen:], dst, maxCodeBits, &c.scratch)
	canonicalCodes(lit, c.codes[:numLitLen])
	canonicalCodes(dst, c.codes[numLitLen:])

	entry := func(sym int) uint64 { return uint64(c.codes[sym])<<8 | uint64(c.lens[sym]) }
	for b := range 256 {
		c.litCode[b] = entry(b)
	}
	maxDigit := int(slices.Max(c.lens['0' : '9'+1]))
	c.fastDigits = 8*maxDigit+int(slices.Max(c.lens[:256])) <= 56
	if c.fastDigits {
		d := &c.digitCode
		d[0] = 0 // no digits: no bits
		for x := range 10 {
			d[digitBase[1]+x] = c.litCode['0'+x]
		}
		for x := range 100 {
			d[digitBase[2]+x] = join(d[digitBase[1]+x/10], d[digitBase[1]+x%10])
		}
		for x := range 1000 {
			d[digitBase[3]+x] = join(d[digitBase[2]+x/10], d[digitBase[1]+x%10])
		}
		for x := range 10000 {
			d[digitBase[4]+x] = join(d[digitBase[2]+x/100], d[digitBase[2]+x%100])
		}
	}
	for l := minMatch; l <= maxMatch; l++ {
		lc := int(lengthCode[l-minMatch])
		e := entry(endOfBlock + 1 + lc)
		extra := uint64(l - int(lengthBase[lc]))
		c.lenCode[l] = ((e>>8)|extra<<(e&0xff))<<8 | (e&0xff + uint64(lengthExtra[lc]))
	}
	for d := range numDist {
		c.distSym[d] = entry(numLitLen + d)
	}
	c.eobCode = entry(endOfBlock)
}

// join is the code table entry (see Compressor) of entry a followed by
// entry b; their lengths must add up to at most 56 bits.
func join(a, b uint64) uint64 {
	return ((a>>8)|(b>>8)<<(a&0xff))<<8 | (a&0xff + b&0xff)
}

// writeHeader writes BFINAL=0, BTYPE=10 and the code lengths of the block,
// run-length coded with the code-length alphabet (RFC 1951 §3.2.7).
func (c *Compressor) writeHeader() {
	// Run-length code the literal/length and distance lengths as one
	// sequence.
	var syms [numLitLen + numDist]uint8  // code-length symbols
	var extra [numLitLen + numDist]uint8 // their repeat counts' extra bits
	var freq [numCodeLen]uint32
	k := 0
	lens := c.lens[:]
	for i := 0; i < len(lens); {
		l := lens[i]
		run := 1
		for i+run < len(lens) && lens[i+run] == l {
			run++
		}
		i += run
		if l == 0 {
			for run >= 3 {
				r := min(run, 138)
				if r >= 11 {
					syms[k], extra[k] = 18, uint8(r-11)
				} else {
					syms[k], extra[k] = 17, uint8(r-3)
				}
				freq[syms[k]]++
				k++
				run -= r
			}
		} else {
			syms[k] = l
			freq[l]++
			k++
			run--
			for run >= 3 {
				r := min(run, 6)
				syms[k], extra[k] = 16, uint8(r-3)
				freq[16]++
				k++
				run -= r
			}
		}
		for ; run > 0; run-- {
			syms[k] = l
			freq[l]++
			k++
		}
	}

	var clLens [numCodeLen]uint8
	var clCodes [numCodeLen]uint16
	buildLengths(freq[:], clLens[:], maxCLBits, &c.scratch)
	canonicalCodes(clLens[:], clCodes[:])
	nCL := numCodeLen
	for nCL > 4 && clLens[codeLenOrder[nCL-1]] == 0 {
		nCL--
	}

	w := &c.w
	w.bits(2<<1, 3) // BFINAL=0, BTYPE=10
	w.bits(numLitLen-257, 5)
	w.bits(numDist-1, 5)
	w.bits(uint64(nCL-4), 4)
	for _, s := range codeLenOrder[:nCL] {
		w.bits(uint64(clLens[s]), 3)
	}
	for i, s := range syms[:k] {
		w.bits(uint64(clCodes[s]), uint(clLens[s]))
		switch s {
		case 16:
			w.bits(uint64(extra[i]), 2)
		case 17:
			w.bits(uint64(extra[i]), 3)
		case 18:
			w.bits(uint64(extra[i]), 7)
		}
	}
}
