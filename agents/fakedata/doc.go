// Package fakedata is ocsflux's port of OCS's FakeDataAgent
// (simonsobs/ocs, ocs/agents/fake_data/agent.py): an agent that publishes
// random-walk "temperatures" on a recorded feed so that a site, the
// InfluxDB publisher and Grafana can be exercised without hardware.
//
// It owns the agent's four operations, registered in the Python order
// (which is the heartbeat's key order):
//
//   - acq (process, blocking): every second, publish the samples due since
//     the last report as one multi-sample block "temps" on the recorded
//     feed false_temperatures (agg_params {"frame_length": N},
//     buffer_time 1 s), fields channel_00, channel_01, ...; session data
//     {"fields": {channel: last value}, "timestamp": last sample time};
//     params test_mode and degradation_period;
//   - count (process, non-blocking): a counter in the session data, one
//     step per second;
//   - set_heartbeat (task, blocking): switch the agent's heartbeat off/on;
//   - delay_task (task, non-blocking, abortable): wait for delay seconds.
//
// With Options.Mode "acq", acq and count are started at the first join
// with params {} (session_ids 0 and 1).
//
// Time (the report interval, count's second, delay_task's delay and the
// degradation period) comes from a [Clock] and the random walk from a
// math/rand/v2 generator; both can be injected (Config) so tests are
// deterministic. Session and message timestamps and the feed's buffer_time
// are the agent runtime's and always use real time.
//
// It does not own the WAMP session, the op state machine, params checking,
// the heartbeat or feed buffering (package agents), nor the command line
// (Options, written for package site and cmd/).
package fakedata
