// Package publisher writes OCS feed data to InfluxDB: it turns decoded feed
// messages (feeds.Message) into line protocol, batches it, optionally
// gzips it, and POSTs it to one or more servers through InfluxDB's 1.x
// /write API or 2.x /api/v2/write API (InfluxDB 3 and VictoriaMetrics
// offer both), classifying every reply. It is the Go counterpart of the
// Python InfluxDB publisher agents' recording loop.
//
// # Stages
//
// A Publisher is an intake and one or more outputs:
//
//   - The intake (intake.go) runs on the caller's goroutine (Enqueue: the
//     WAMP receive goroutine, and record's for its stats sample). It
//     filters (Recordable, Filter), counts per agent/feed, encodes each
//     message once into a chunk of line protocol and offers the chunk to
//     every output's inbox, a bounded channel: it takes only its own
//     mutex, never an output's, and never waits. What an inbox cannot take
//     (the output holds MaxPendingBytes) is counted as ReasonQueueFull for
//     that output.
//   - Each Output (output.go) owns its HTTP client and API (http.go), its
//     reply classification (classify.go), retries and backoff, batching
//     (batch.go), spool and dead-letter file, and counters. Its run starts
//     and stops three goroutines that share the output's state under its
//     mutex: the inbox goroutine (copies offered chunks into batches), the
//     writer (the only one that talks to the server) and, with a spool,
//     the spooler. An output that is slow or down only fills its own
//     memory and spool.
//
// Publisher.Run runs the outputs; at the stop it closes the intake first,
// then lets each output write or spool what it holds.
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
//   - Batching and writing: batches are sent by size, by age
//     (FlushInterval, BatchWait) or as soon as the previous write
//     completed.
//   - Reply classification: Classify (and ClassifyWrite, for which only
//     204 means written) is the one function that decides, for every
//     reply, ok / retry with backoff (honouring Retry-After) /
//     authentication failure / create the database and resend / the server
//     kept the good lines and refused the rest / split a too-large request
//     / an unknown 4xx, tried and then bisected (ActionRefused).
//   - Poison isolation (deadletter_isolate.go): after a partial write the
//     refused lines are found from InfluxDB's message (the field,
//     measurement and types of a field type conflict, the text of
//     unparsable lines) and by parsing the lines here; when that does not
//     account for every refused point the batch is bisected and resent
//     (InfluxDB overwrites identical points) until each refused line is
//     alone; a 413 splits the batch until it fits. Refused lines go to the
//     dead-letter file (DeadLetter, JSON lines), are counted per
//     measurement, field and reason, and a type conflict is logged once
//     per field with the type sent and the type InfluxDB has. A refused
//     point never blocks the queue nor makes the publisher degraded.
//   - The spool (Spool, Config.SpoolDir): an on-disk queue of batches, in
//     append-only segment files of length+CRC-32C records, bounded by size
//     and age (the oldest segments are dropped, counted and logged with the
//     time range lost). Batches go there when a write fails for a reason
//     that may pass (unreachable, timeout, 5xx, 401/403, database missing
//     and not creatable), while such failures last (new data included,
//     instead of growing memory), while a write hangs for longer than
//     FlushInterval, beyond half of MaxPendingBytes, and at stop. Spooled
//     data is replayed oldest first, alternating with live data and
//     limited to ReplayBytesPerSecond; a segment is deleted once all its
//     batches are acknowledged; replay resumes after a restart. While
//     writes fail, the spool's oldest data probes InfluxDB with capped
//     exponential backoff (RetryMin to RetryMax, jitter, Retry-After).
//   - Start-up check of the database (SHOW DATABASES, CREATE DATABASE) or
//     bucket (/api/v2/buckets, /api/v2/orgs), retried while the server is
//     down without delaying a stop; skipped with NoCreate.
//   - Credentials (LoadCredentials: the Python agent's INFLUXDB_USERNAME /
//     INFLUXDB_PASSWORD rules, plus INFLUXDB_TOKEN), never logged.
//   - Counters, the spool's state and the degraded reason (Stats).
//
// # What can be lost
//
// With a spool:
//
//   - kill -9 (or a crash) while writes fail: at most the points accepted
//     by Enqueue during the last FlushInterval (the batch being filled;
//     the spooler seals and appends it as soon as its FlushInterval is
//     over), plus a batch whose append was under way.
//   - kill -9 while InfluxDB accepts writes: at most the points of the
//     last FlushInterval, those of the write in flight, and batches sealed
//     meanwhile and not yet spooled (a write in flight for longer than
//     FlushInterval makes the spooler spool them as during an outage).
//   - power loss: in addition, spooled data not yet fsync'd, i.e. nothing
//     more with SpoolSync = SpoolSyncEveryBatch (the default), at most
//     SpoolSync of data with an interval.
//   - a stop (record stop, SIGTERM): nothing, unless the spool cannot be
//     written (then Run returns an error wrapping ErrUnflushed). Intake
//     stops first (the caller's job), Run writes what is in memory for at
//     most StopTimeout and spools the rest (at once after a failed
//     write).
//   - the spool's bounds: the oldest data beyond SpoolMaxBytes or
//     SpoolMaxAge (counted as Stats.SpoolDropped, logged with its time
//     range); the newest is kept.
//   - points InfluxDB refuses for good are not lost but dead-lettered.
//
// Without a spool (SpoolDir empty), data that cannot be written is kept in
// memory, in order, and retried until MaxPendingBytes is reached (then new
// points are dropped and counted as ReasonQueueFull) or Run stops (then
// the unwritten points are counted as ReasonStopped).
//
// Re-sending data is safe: InfluxDB overwrites a point with the same
// measurement, tags, timestamp and field with itself, so replaying a batch
// that was (partly) written before a crash duplicates nothing.
//
// # What it does not own
//
// It does not speak WAMP, decode feed events (package feeds), or manage the
// `record` operation and its session (the agent): stopping intake before
// cancelling Run, reporting Stats in the session data and the stats feed,
// and turning Stats.Degraded into the session's degraded flag are the
// agent's.
//
// # Ownership and concurrency
//
// Enqueue and Stats may be called from any goroutine, before, during and
// after Run. Enqueue reads its message during the call only. The Encoder
// appends to caller-owned slices and is not safe for concurrent use. Run
// starts, per output, its run goroutine and one that waits for it to
// connect, and stops them all before it returns; each output's run starts
// and stops its inbox goroutine and, with a spool, its spooler, which
// moves batches from memory to disk so that neither the inbox nor the
// writer waits for the disk.
package publisher
