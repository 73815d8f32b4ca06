package lpgzip

// DEFLATE's length and distance alphabets (RFC 1951 §3.2.5).

const (
	endOfBlock  = 256
	numLitLen   = 286 // literal/length symbols used: 0-285
	numDist     = 30  // distance symbols used: 0-29
	numCodeLen  = 19  // code-length alphabet
	minMatch    = 3   // shortest DEFLATE match
	maxMatch    = 258 // longest DEFLATE match
	windowSize  = 32768
	maxCodeBits = 15 // longest literal/length and distance code
	maxCLBits   = 7  // longest code-length code
)

var lengthBase = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
	35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}

var lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
	3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}

var distBase = [numDist]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
	257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}

var distExtra = [numDist]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
	7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}

// codeLenOrder is the order in which the code-length code's lengths are
// sent.
var codeLenOrder = [numCodeLen]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// lengthCode[l-minMatch] is the length symbol index (0-28, symbol 257+i)
// of match length l.
var lengthCode = func() (t [maxMatch - minMatch + 1]uint8) {
	for c := len(lengthBase) - 1; c >= 0; c-- {
		for l := int(lengthBase[c]); l < int(lengthBase[c])+1<<lengthExtra[c] && l <= maxMatch; l++ {
			if t[l-minMatch] == 0 {
				t[l-minMatch] = uint8(c)
			}
		}
	}
	return t
}()

// distCode returns the distance symbol (0-29) of distance d (1-32768).
func distCode(d int) int {
	d--
	if d < 256 {
		return int(distCodeLow[d])
	}
	return int(distCodeHigh[d>>7])
}

var distCodeLow, distCodeHigh = func() (lo [256]uint8, hi [256]uint8) {
	for c := range distBase {
		start, n := int(distBase[c])-1, 1<<distExtra[c]
		for d := start; d < start+n; d++ {
			if d < 256 {
				lo[d] = uint8(c)
			} else {
				hi[d>>7] = uint8(c)
			}
		}
	}
	return lo, hi
}()
