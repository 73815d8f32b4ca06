package publisher

import "github.com/ocsflux/ocsflux/internal/pyrepr"

// AppendPyFloat appends the text Python's repr(float) gives for f to dst
// and returns the extended slice. This is how the Python agent writes
// float fields, so for well-formed input our line protocol is
// byte-identical to its (see package internal/pyrepr).
func AppendPyFloat(dst []byte, f float64) []byte { return pyrepr.AppendFloat(dst, f) }
