// Package loadgen is the end-to-end load generator behind `ocsflux bench`.
//
// It owns K simulated OCS agents that publish recorded feed messages over
// WAMP (WebSocket, msgpack) exactly as OCS agents do: on topic
// <address_root>.<agent>.feeds.<feed>, one positional argument, the pair
// [message, feed_info] with feed_info's seven keys and record true. They
// are paced by a ticker to a target total rate in points per second (one
// point is one sample of a block: one InfluxDB point), for one step per
// rate. Each step publishes on a feed of its own (r<rate>_s<step>) from
// agents named bench-<run id>-<k>, so that InfluxDB counts are separable
// between steps and runs.
//
// It measures, per step, against a publisher that is already running and a
// real InfluxDB 1.x: the points published and found, the achieved publish
// rate, the latency from publish to queryable (each sample's timestamp is
// its publish wall time; InfluxDB is polled for the newest timestamp per
// measurement), and, given the publisher's PID, its CPU time and RSS from
// /proc. It talks to the publisher only through the router and InfluxDB, so
// any implementation that speaks OCS (ocsflux or the Python agent) can be
// measured.
//
// Environment (spawn.go) optionally provides the whole chain for a run: an
// embedded router, a throwaway influxd, and an ocsflux publisher as a child
// process. loadgen does not print anything itself except through
// Report.WriteTable and Report.WriteJSON.
package loadgen
