// Package influxd starts and stops a throwaway InfluxDB 1.x server (the
// Debian package's influxd binary) on a free loopback port with its data,
// meta and WAL directories in a temporary directory and a generated config:
// HTTP on 127.0.0.1 only, reporting and self-monitoring off.
//
// It is used by the tests (through internal/influxtest) and by `ocsflux demo`
// when no InfluxDB answers. It does not write points or run queries beyond
// the /ping that tells it the server is up.
package influxd
