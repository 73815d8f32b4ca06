// Package pyrepr writes floats exactly as Python's repr(float) does: the
// shortest digits that read back as the same float, fixed notation for
// decimal exponents in [-4, 16) with ".0" on integral values, else
// d[.ddd]e±XX. OCS is written in Python, so this text is what its agents
// put on the wire and into InfluxDB: the line-protocol encoder, the feed
// session ids, the site config's argument stringification and the router's
// Python-compatible JSON all use this one implementation.
//
// AppendFloat is fast (our own Schubfach digits, no allocation);
// AppendFloatStrconv is the plain strconv-based reference the tests compare
// it with.
package pyrepr
