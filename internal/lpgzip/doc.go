// Package lpgzip compresses InfluxDB line protocol into gzip (RFC 1952)
// about twice as fast as a general-purpose DEFLATE compressor's fastest
// level, and smaller (docs/BENCHMARKS.md).
//
// A general compressor searches a hash table for earlier occurrences of
// every few bytes. Line protocol needs no search: consecutive lines of one
// series repeat the measurement, the tags, the field keys and the leading
// digits of the timestamp at the same places, and differ in the values.
// The Compressor therefore compares each line with the previous line of
// the same series, emits a back-reference for every run they share and
// literals for the rest, and codes both with Huffman tables built from the
// statistics of the data compressed before (dynamic DEFLATE blocks). Pairs
// of decimal digits are coded with one table lookup.
//
// The output is standard gzip that any decoder reads, and it decompresses
// to exactly the input for any input bytes: every back-reference is checked
// byte for byte, so input that is not line protocol is merely compressed
// less.
package lpgzip
