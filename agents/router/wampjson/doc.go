// Package wampjson reads and writes JSON the way the Python side of OCS does:
// the WAMP-JSON serializer of autobahn/crossbar and Python's json module.
//
// It keeps integers and floats apart in both directions: a JSON number
// without a fraction or exponent decodes to an int64 (uint64 above
// MaxInt64), anything else to a float64, and a float64 is always written in
// Python's repr form, so 2.0 stays "2.0" and 1e16 stays "1e+16" instead of
// turning into an integer on the way through. It accepts and writes the
// non-standard tokens NaN, Infinity and -Infinity that Python's json module
// emits for non-finite floats. In WAMP mode a string that starts with a NUL
// character carries base64 binary data, as the WAMP spec says.
//
// Serializer adapts the codec to nexus (transport/serialize.Serializer) so
// the router speaks wamp.2.json with these rules. The package does not open
// connections or route messages; the router package does.
package wampjson
