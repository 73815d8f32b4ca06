// Package clienttest gives client tests an OCS agent to talk to: FakeAgent
// registers an agent's management and .ops procedures on a router and
// answers like the Python InfluxDBAgent with one process, "record", using
// the message texts of OCS (reference-output.md §1). It records every call
// so tests can check what a client sent.
//
// It is a test double for clients only: it has no heartbeat, no feeds
// and no real operation.
package clienttest
