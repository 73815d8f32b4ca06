package feeds

// Wire returns the value as a WAMP client publishes it: float64, int64, bool
// or string; nil for an absent value (KindInvalid).
func (v Value) Wire() any {
	switch v.Kind {
	case KindFloat:
		return v.F
	case KindInt:
		return v.I
	case KindBool:
		return v.B
	case KindString:
		return v.S
	}
	return nil
}

// Wire returns feed_info as a WAMP client publishes it: the seven keys of
// ocs-protocol.md §6.2, agg_params {} when nil, agent_class null when nil.
// The AggParams map is shared, not copied.
func (i Info) Wire() map[string]any {
	agg := i.AggParams
	if agg == nil {
		agg = map[string]any{}
	}
	var class any
	if i.AgentClass != nil {
		class = *i.AgentClass
	}
	return map[string]any{
		"agent_address": i.AgentAddress,
		"agg_params":    agg,
		"feed_name":     i.FeedName,
		"address":       i.Address,
		"record":        i.Record,
		"session_id":    i.SessionID,
		"agent_class":   class,
	}
}

// Wire returns the block as OCS encodes it (ocs_feed.Block.encoded):
// {"block_name": name, "data": {field: [values]}, "timestamps": [t...]},
// and for a tagged block "influxdb_tags": {field: {tag: value, ...,
// "_field": key}} with the tag values as text.
func (b Block) Wire() map[string]any {
	ts := make([]any, len(b.Timestamps))
	for i, t := range b.Timestamps {
		ts[i] = t
	}
	data := make(map[string]any, len(b.Fields))
	for _, f := range b.Fields {
		vals := make([]any, len(f.Values))
		for i, v := range f.Values {
			vals[i] = v.Wire()
		}
		data[f.Name] = vals
	}
	w := map[string]any{"block_name": b.Name, "data": data, "timestamps": ts}
	if b.Tagged() {
		tags := make(map[string]any, len(b.Fields))
		for i, f := range b.Fields {
			var ts TagSet
			if i < len(b.Tags) {
				ts = b.Tags[i]
			}
			set := make(map[string]any, len(ts.Tags)+1)
			for _, t := range ts.Tags {
				set[t.Key] = t.Value
			}
			set[FieldTag] = ts.Field
			tags[f.Name] = set
		}
		w["influxdb_tags"] = tags
	}
	return w
}

// Wire returns the recorded feed message: an object mapping each block's
// name to its Wire form ({} for no blocks).
func (m Message) Wire() map[string]any {
	out := make(map[string]any, len(m.Blocks))
	for _, b := range m.Blocks {
		out[b.Name] = b.Wire()
	}
	return out
}

// Args returns the WAMP positional arguments of the feed event carrying m:
// EventArgs(m.Wire(), m.Info).
func (m Message) Args() []any {
	return EventArgs(m.Wire(), m.Info)
}

// EventArgs returns the WAMP positional arguments of a feed event: exactly
// one argument, the pair [message, feed_info] (ocs-protocol.md §6.1). The
// event has no keyword arguments. message is any serializable value for a
// feed that is not recorded (a heartbeat's {op_name: op_code}), or
// Message.Wire() for a recorded one.
func EventArgs(message any, info Info) []any {
	return []any{[]any{message, info.Wire()}}
}
