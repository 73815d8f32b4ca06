// Package publisher writes OCS feed data to InfluxDB: it turns decoded feed
// messages (feeds.Message) into line protocol, batches it, optionally
// gzips it, and POSTs it to InfluxDB's 1.x /write endpoint (also offered by
// InfluxDB 2.x and 3.x), classifying every reply. It is the Go counterpart
// of the Python InfluxDB publisher agent's recording loop.
//
// # What it owns
//
//   - Mapping (ocs-protocol.md §7.6): one point per sample, measurement =
//     agent_address, one tag feed=<feed_name>, fields = the block's keys,
//     timestamp int64(t*1e9) ns. For well-formed input the body is
//     byte-identical to the Python agent's (floats in Python repr,
//     True/False, 3i). Unlike Python, names and strings are escaped, and
//     values InfluxDB would refuse (NaN, ±Inf, field key "time", times
//     outside InfluxDB's range, strings over 64 KiB, names that cannot be
//     written) are left out and counted per agent/feed/field (Reason),
//     never failing a batch. Absent values (feeds.KindInvalid, where the
//     feeds decoder dropped and reported a null, list or object) are left
//     out without being counted again. --protocol json (ProtocolJSON) reproduces the points of the
//     Python agent's json protocol (§7.7).
//   - Batching and writing: Publisher.Run owns the only goroutine that
//     talks to InfluxDB. Enqueue (non-blocking, bounded by MaxPendingBytes)
//     encodes into batches that are sent by size, by age (FlushInterval)
//     or as soon as the previous write completed.
//   - Reply classification: Classify is the one function that decides, for
//     every reply, ok / retry with backoff (honouring Retry-After) /
//     authentication failure / create the database and resend / the server
//     kept the good lines and refused the rest / split a too-large request.
//   - Start-up database check (SHOW DATABASES, CREATE DATABASE), retried
//     while InfluxDB is down without delaying a stop.
//   - Credentials (LoadCredentials: the Python agent's INFLUXDB_USERNAME /
//     INFLUXDB_PASSWORD rules, plus INFLUXDB_TOKEN), never logged.
//   - Counters and the degraded reason (Stats).
//
// # What it does not own
//
// It does not speak WAMP, decode feed events (package feeds), or manage the
// `record` operation and its session (the agent). It has no on-disk spool
// yet: data that cannot be written is kept in memory, in order, and retried
// until MaxPendingBytes is reached (then new points are dropped and counted
// as ReasonQueueFull) or Run stops (then the unwritten points are counted
// as ReasonStopped). Those two places — Enqueue's queue-full branch and
// Publisher.finish — are where a spool is to be plugged in.
//
// # Ownership and concurrency
//
// Enqueue and Stats may be called from any goroutine, before, during and
// after Run. Enqueue reads its message during the call only. The Encoder
// appends to caller-owned slices and is not safe for concurrent use.
package publisher
