// Package agents is the OCS agent runtime for Go agents: it lets a Go program
// appear on an OCS WAMP realm exactly like a Python OCS agent
// (simonsobs/ocs, ocs/ocs_agent.py), so OCSClient, ocs-web, the Registry and
// ocs-client-cli cannot tell the difference.
//
// It owns:
//
//   - the agent's WAMP session and its lifecycle ([Agent.Run]): connecting to
//     wamp_server with capped exponential backoff and jitter, registering
//     <address>.ops and then <address> on every join, re-subscribing each
//     subscription exactly once per join, launching start-up operations on
//     the first join only, giving up after Config.CrossbarTimeout without a
//     rejoin, and shutting down (stop processes, abort tasks, wait up to
//     Config.StopTimeout, GOODBYE) when its context is cancelled;
//   - the operation state machine (tasks and processes, their sessions,
//     op codes, message logs and params checks) with the exact replies of
//     OCS's .ops and management procedures. The state machine has one owner
//     goroutine; RPC handlers and operation goroutines send it requests;
//   - the heartbeat feed (1 Hz, op codes in registration order) and the
//     feed API for Go agents: registering feeds, publishing recorded
//     (block) and unrecorded messages with OCS's checks and buffering;
//   - subscriptions with exact, prefix and wildcard matching whose handlers
//     never block the WAMP receive loop.
//
// It does not own: the command line and site config (package site and
// cmd/), the router (agents/router), InfluxDB (agents/influxdb) or the
// decoding of other agents' feed messages into typed blocks (package feeds).
//
// Access control: only OCS's default policy "none" is implemented. Every
// action accepts a password argument and ignores it; sessions carry
// cred_level 1 and every op has min_privs 1.
//
// A minimal agent:
//
//	a, err := agents.New(agents.Config{
//		AddressRoot: "observatory", InstanceID: "counter1",
//		AgentClass: "CounterAgent", URL: "ws://127.0.0.1:8001/ws", Realm: "test_realm",
//	})
//	if err != nil { ... }
//	err = a.RegisterProcess(agents.OpSpec{
//		Name: "count",
//		Params: []agents.Param{{Key: "step", Type: agents.Int, Default: 1, HasDefault: true}},
//		Run: func(s *agents.Session, p agents.Params) (bool, string, error) {
//			n := int64(0)
//			t := time.NewTicker(time.Second)
//			defer t.Stop()
//			for {
//				select {
//				case <-s.Stopping():
//					return true, "Exited on request.", nil
//				case <-t.C:
//					n += p.Int("step")
//					s.SetData(map[string]any{"counter": n})
//				}
//			}
//		},
//	})
//	...
//	err = a.Run(ctx) // returns nil after ctx is cancelled and ops were stopped
package agents
