package client

import (
	"fmt"
	"strings"
)

// OpCodeName returns the name of an ocs.base.OpCode value (1 NONE ...
// 8 DEGRADED), or "?" for anything else.
func OpCodeName(code int64) string {
	names := []string{"NONE", "STARTING", "RUNNING", "STOPPING", "SUCCEEDED", "FAILED", "EXPIRED", "DEGRADED"}
	if code >= 1 && code <= int64(len(names)) {
		return names[code-1]
	}
	return "?"
}

// FormatAPI prints an agent's get_api dict for people:
//
//	observatory.influxagent: InfluxDBAgent on ocs-docker (pid 7)
//	processes:
//	  record  running, op_code 3 RUNNING, session 1
//	tasks:
//	  (none)
//	feeds:
//	  heartbeat  record=false
//	access_control: policy none
//
// Missing or odd entries are printed as they are rather than refused.
func FormatAPI(address string, api map[string]any) string {
	var b strings.Builder
	class, _ := api["agent_class"].(string)
	host, _ := api["instance_hostname"].(string)
	fmt.Fprintf(&b, "%s: %s on %s (pid %s)\n", address, class, host, short(api["instance_pid"]))
	for _, kind := range []string{"processes", "tasks"} {
		fmt.Fprintf(&b, "%s:\n", kind)
		ops, _ := api[kind].([]any)
		if len(ops) == 0 {
			b.WriteString("  (none)\n")
		}
		for _, entry := range ops {
			b.WriteString("  " + formatOpTuple(entry) + "\n")
		}
	}
	b.WriteString("feeds:\n")
	feeds, _ := api["feeds"].([]any)
	if len(feeds) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, entry := range feeds {
		pair, ok := entry.([]any)
		if !ok || len(pair) != 2 {
			b.WriteString("  " + short(entry) + "\n")
			continue
		}
		name, _ := pair[0].(string)
		info, _ := pair[1].(map[string]any)
		fmt.Fprintf(&b, "  %s  record=%s\n", name, short(info["record"]))
	}
	if ac, ok := api["access_control"].(map[string]any); ok {
		fmt.Fprintf(&b, "access_control: policy %s\n", plain(ac["policy"]))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// formatOpTuple prints [name, session, op_info] on one line.
func formatOpTuple(entry any) string {
	t, ok := entry.([]any)
	if !ok || len(t) != 3 {
		return short(entry)
	}
	name, _ := t[0].(string)
	sess, _ := t[1].(map[string]any)
	status, _ := sess["status"].(string)
	line := name + "  " + status
	if code, ok := sess["op_code"].(int64); ok {
		line += fmt.Sprintf(", op_code %d %s", code, OpCodeName(code))
	}
	if id, ok := sess["session_id"].(int64); ok {
		line += fmt.Sprintf(", session %d", id)
	}
	if success, ok := sess["success"].(bool); ok && status == "done" {
		line += fmt.Sprintf(", success %t", success)
	}
	return line
}

// plain prints a string as it is and anything else as compact JSON.
func plain(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return short(v)
}
