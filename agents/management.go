package agents

import (
	"context"
	"sort"
)

// This file builds the replies of the management procedure <address>
// (get_api and its parts), ocs-protocol.md §2.2.

// api returns the get_api dict: exactly agent_class, instance_hostname,
// instance_pid, feeds, processes, tasks and access_control.
func (a *Agent) api(ctx context.Context) (map[string]any, bool) {
	var procs, tasks []any
	if !a.ops.doCtx(ctx, func() {
		procs = a.ops.opTuples(kindProcess)
		tasks = a.ops.opTuples(kindTask)
	}) {
		return nil, false
	}
	return map[string]any{
		"agent_class":       a.agentClass(),
		"instance_hostname": a.cfg.Hostname,
		"instance_pid":      a.cfg.PID,
		"feeds":             a.feedList(),
		"processes":         procs,
		"tasks":             tasks,
		"access_control": map[string]any{
			"version":          1,
			"policy":           "none",
			"update_timestamp": a.aclTimestamp,
			"update_count":     0,
			"step":             0,
		},
	}, true
}

// agentClass is the class name, or nil (null) when none was configured.
func (a *Agent) agentClass() any {
	if a.cfg.AgentClass == "" {
		return nil
	}
	return a.cfg.AgentClass
}

// opTuples returns [name, session, op_info] for every op of kind, sorted by
// name. It runs on the state machine's goroutine.
func (m *opsManager) opTuples(kind opKind) []any {
	var sel []*op
	for _, o := range m.ops {
		if o.kind == kind {
			sel = append(sel, o)
		}
	}
	sort.Slice(sel, func(i, j int) bool { return sel[i].spec.Name < sel[j].spec.Name })
	out := make([]any, 0, len(sel))
	for _, o := range sel {
		var sess map[string]any
		if o.cur == nil {
			sess = map[string]any{"op_name": o.spec.Name, "status": "no_history"}
		} else {
			sess = o.cur.encode()
		}
		out = append(out, []any{o.spec.Name, sess, o.info()})
	}
	return out
}

// info is the op_info of get_api: blocking, docstring, op_type, min_privs,
// and abortable for tasks.
func (o *op) info() map[string]any {
	var doc any
	if o.spec.Docstring != nil {
		doc = *o.spec.Docstring
	}
	info := map[string]any{
		"blocking":  o.spec.Blocking,
		"docstring": doc,
		"op_type":   o.kind.String(),
		"min_privs": 1,
	}
	if o.kind == kindTask {
		info["abortable"] = o.spec.Abortable
	}
	return info
}

// feedList returns [feed_name, feed_info] for every feed in registration
// order.
func (a *Agent) feedList() []any {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]any, 0, len(a.feeds))
	for _, f := range a.feeds {
		out = append(out, []any{f.info.FeedName, f.infoDict()})
	}
	return out
}
