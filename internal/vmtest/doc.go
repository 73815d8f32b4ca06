// Package vmtest gives tests a real single-node VictoriaMetrics, the
// counterpart of internal/influxtest for InfluxDB: Start launches the Debian
// package's victoria-metrics binary on a free loopback port with its data in
// a temporary directory, waits until /health answers and stops it when the
// test ends. Kill and Resume take it down abruptly and bring it back on the
// same port with the same data, for outage tests.
//
// The server is started so that what is written can be read back at once
// and exactly: retention 100 years (old timestamps are kept; VictoriaMetrics
// drops, with 204, points older than the retention or more than two days in
// the future), no query latency offset, no response cache. Flush makes
// just-written points searchable; Persist also puts them on disk, so that
// they survive Kill (Flush alone does not); Export and CountPoints read raw
// samples back through /api/v1/export.
//
// VictoriaMetrics accepts InfluxDB line protocol on /write and
// /api/v2/write and stores each field as its own series named
// measurement_field, with the tags as labels, the ?db= value as label "db"
// and timestamps truncated to milliseconds. vmtest_test.go records these and
// the other behaviours the rest of the code relies on.
//
// Without the binary Start skips under -short and fails otherwise. It does
// not fake VictoriaMetrics: fault injection belongs in httptest servers in
// the tests that need it.
package vmtest
