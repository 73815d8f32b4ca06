// Package lpgzip compresses InfluxDB line protocol into gzip (RFC 1952)
// about twice as fast as a general-purpose DEFLATE compressor's fastest
// level, four times with the encoder's Layout, and smaller
// (docs/BENCHMARKS.md).
//
// A general compressor searches a hash table for earlier occurrences of
// every few bytes. Line protocol needs no search: consecutive lines of one
// series repeat the measurement, the tags, the field keys and the leading
// digits of the timestamp at the same places, and differ in the values.
// The Compressor therefore compares each line with the previous line of
// the same series, emits a back-reference for every run they share and
// literals for the rest, and codes both with Huffman tables built from the
// statistics of the data compressed before (dynamic DEFLATE blocks).
// Groups of up to four decimal digits are coded with one table lookup.
//
// Append finds the fields of a line by looking for separators. A writer
// that knows where its lines and field values end (the publisher's
// encoder) passes that Layout to AppendLayout, which compares each line
// with the last one of its series field by field, without searching, and
// codes the digits of a value in one or two steps: about 1.4 times as fast
// on lines of float fields, with the same output size.
//
// The output is standard gzip that any decoder reads, and it decompresses
// to exactly the input for any input bytes: every back-reference is checked
// byte for byte, so input that is not line protocol is merely compressed
// less.
package lpgzip
