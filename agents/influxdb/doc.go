// Package influxdb is ocsflux's InfluxDB publisher agent, the drop-in for
// OCS's InfluxDBAgent (simonsobs/ocs, ocs/agents/influxdb_publisher): it
// subscribes to every feed of the realm and writes the recorded ones to
// InfluxDB 1.x while its process record runs.
//
// It owns:
//
//   - the agent's identity (agent class InfluxDBAgent), its one operation,
//     the process record (blocking, param test_mode bool default false, the
//     Python docstring verbatim), started at the first join with
//     Options.InitialState "record";
//   - the subscription to <address_root>..feeds. (wildcard, once per join).
//     Its handler runs on the WAMP receive goroutine and never blocks:
//     while record is not running it discards the event (counted, see
//     Agent.Ignored); otherwise it decodes it (package feeds), reports what
//     the decoder dropped (aggregated, logged at most every 10 s with
//     agent, feed, block and field names), skips feeds that are not
//     recorded or have agg_params.exclude_influx, and hands the rest to the
//     record session's publisher (publisher.Enqueue only encodes);
//   - the record session: one publisher.Publisher per session, built from
//     Options (spool, its bounds and fsync policy, memory bound, shutdown
//     timeout included) and the credentials read from the environment at
//     every start (ocs-protocol.md §7.3). While InfluxDB does not answer the session
//     data is {} and degraded false, as in Python; data arriving meanwhile
//     is written once it answers; a stop ends with success false and
//     "Failed to connect to InfluxDB". Once connected, every second the
//     session data is refreshed and degraded follows the publisher (true
//     while writes fail, op_code 8). A stop in any state — degraded too,
//     unlike Python — stops intake, writes what is pending within
//     Options.ShutdownTimeout (spooling the rest) and ends with success
//     true and "Aggregation has ended"; test_mode does the same after one second (and, unlike
//     Python, stops intake);
//   - the stats feed ocsflux_stats (StatsFields), published and written
//     once per second while record runs.
//
// Session data of record once connected (ints unless noted):
//
//	connected             bool   the Python key: false while writes fail
//	last_updated          float  the Python key: Unix time of this update
//	degraded_reason       string why InfluxDB is not accepting data; "" when it is
//	points_received ... events_dropped   every StatsFields field, same values
//	pending_bytes         int    memory held by data waiting to be written (see publisher.Stats)
//	last_write            float  Unix time of the last successful write, null if none
//	rejected_by_reason    object reason → count (point reasons count points, field
//	                             reasons count values left out of written points;
//	                             "dropped by decoder" counts samples the decoder dropped)
//	feeds                 object agent_address → feed_name → {points_received,
//	                             points_written, last_written (float or null)}
//	spool_points          int    points waiting in the spool (this run's and earlier ones')
//	spooled               int    points of this session that went to the spool
//	replayed              int    points written to InfluxDB from the spool
//	replay_rate           float  replayed points per second, over the last few seconds
//	spool_dropped         int    points dropped from the spool by --spool-max-bytes/-age
//	corrupt_records       int    corrupt or torn spool records skipped at start
//	spool_error           string the last error writing the spool while it fails, else ""
//	dead_letters          list   {measurement, field, reason, count} of the points
//	                             InfluxDB refused for good (the dead-letter file)
//	dead_letter_errors    int    failed writes to the dead-letter file
//
// Counters start at 0 with each record session.
//
// It does not own the WAMP session, the op state machine or the heartbeat
// (package agents), decoding feed events (package feeds), line protocol,
// batching and InfluxDB replies (package publisher), or the command line
// (Options is written for package site and cmd/). The on-disk spool is the
// publisher's (publisher.Config.SpoolDir, from Options.SpoolDir): with it,
// data InfluxDB does not accept (outage, stop while degraded, SIGTERM) is
// kept on disk and written when InfluxDB accepts data again, also by a
// later run on the same directory; without it (Options.SpoolDir "") what
// is not written when record stops is logged and lost.
package influxdb
