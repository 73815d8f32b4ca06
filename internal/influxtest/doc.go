// Package influxtest gives tests a real InfluxDB 1.x: Start launches a
// throwaway influxd (see internal/influxd) for one test or package, and the
// helpers create databases, write line protocol and query it back.
//
// It fails the test with a clear message when influxd is not installed; it
// never skips. It does not fake InfluxDB: fault injection belongs in
// httptest servers in the tests that need it.
package influxtest
