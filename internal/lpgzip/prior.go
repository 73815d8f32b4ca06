package lpgzip

// prior stands in for the statistics before a Compressor has seen any
// data: roughly the symbol mix of line protocol with float fields (mostly
// digits, field keys as back-references at distances of a few hundred
// bytes). It only shapes the first, short block.
var prior = func() (p [numLitLen + numDist]uint32) {
	for b := range 256 {
		switch {
		case b >= '0' && b <= '9':
			p[b] = 1000
		case b >= 'a' && b <= 'z', b == '_':
			p[b] = 10
		case b >= 'A' && b <= 'Z':
			p[b] = 5
		}
	}
	for _, b := range []byte{',', '=', ' ', '\n', '.'} {
		p[b] = 100
	}
	for _, b := range []byte{'-', 'e', 'i', '"'} {
		p[b] = 20
	}
	for s := 258; s <= 264; s++ { // lengths 4-10
		p[s] = 50
	}
	for s := 265; s <= 273; s++ { // lengths 11-34
		p[s] = 80
	}
	for d := 16; d <= 19; d++ { // distances 257-1024
		p[numLitLen+d] = 100
	}
	return p
}()
