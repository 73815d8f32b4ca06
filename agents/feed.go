package agents

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
)

// FeedSpec declares a feed (OCS's register_feed).
type FeedSpec struct {
	// Name is the feed name; the topic is <address>.feeds.<Name>.
	Name string
	// Record marks a feed of structured data for recording (InfluxDB, the
	// Aggregator). Its messages are blocks, checked and buffered; other
	// feeds publish any serializable message unchanged.
	Record bool
	// AggParams is copied into every feed_info ({} if nil).
	AggParams map[string]any
	// BufferTime: a recorded feed sends what it accumulated when a publish
	// arrives at least BufferTime after the first buffered one (0: every
	// publish is sent at once). There is no timer, as in OCS; call Flush
	// when an op ends.
	BufferTime time.Duration
}

// Feed is a registered feed. Its methods are safe for concurrent use.
type Feed struct {
	a          *Agent
	info       feeds.Info
	dict       map[string]any // feed_info as sent; never mutated
	bufferTime time.Duration

	mu       sync.Mutex
	blocks   map[string]*pendingBlock
	order    []string // block names, first-publish order
	bufStart time.Time
	pending  bool
}

// pendingBlock accumulates the samples of one block between flushes. Its
// field set is fixed by the first message for the block.
type pendingBlock struct {
	fields     []string
	index      map[string]int
	timestamps []any
	values     [][]any
}

// RegisterFeed registers a feed. It may be called before or during Run.
// Feed names are unique per agent; "heartbeat" is the agent's own.
func (a *Agent) RegisterFeed(spec FeedSpec) (*Feed, error) {
	if spec.Name == "" || strings.ContainsAny(spec.Name, ". \t\r\n#") {
		return nil, fmt.Errorf("register feed %q on %s: a feed name must be one non-empty URI component", spec.Name, a.address)
	}
	if spec.BufferTime < 0 {
		return nil, fmt.Errorf("register feed %q on %s: negative buffer time", spec.Name, a.address)
	}
	if spec.Name == heartbeatFeed {
		return nil, fmt.Errorf("register feed %q on %s: the heartbeat feed is the agent's own", spec.Name, a.address)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.feedByName[spec.Name] != nil {
		return nil, fmt.Errorf("register feed %q on %s: already registered", spec.Name, a.address)
	}
	return a.addFeedLocked(spec), nil
}

func (a *Agent) addFeedLocked(spec FeedSpec) *Feed {
	var c safeCounter
	agg, _ := c.safe(spec.AggParams).(map[string]any)
	if agg == nil {
		agg = map[string]any{}
	}
	var class *string
	if a.cfg.AgentClass != "" {
		cl := a.cfg.AgentClass
		class = &cl
	}
	f := &Feed{
		a: a,
		info: feeds.Info{
			AgentAddress: a.address,
			AggParams:    agg,
			FeedName:     spec.Name,
			Address:      a.address + ".feeds." + spec.Name,
			Record:       spec.Record,
			SessionID:    a.sessionID,
			AgentClass:   class,
		},
		bufferTime: spec.BufferTime,
		blocks:     map[string]*pendingBlock{},
	}
	f.dict = map[string]any{
		"agent_address": f.info.AgentAddress,
		"agg_params":    agg,
		"feed_name":     f.info.FeedName,
		"address":       f.info.Address,
		"record":        f.info.Record,
		"session_id":    f.info.SessionID,
		"agent_class":   a.agentClass(),
	}
	a.feeds = append(a.feeds, f)
	a.feedByName[spec.Name] = f
	return f
}

// Info returns the feed's feed_info. AggParams must not be modified.
func (f *Feed) Info() feeds.Info { return f.info }

// Topic returns the feed's topic, <address>.feeds.<name>.
func (f *Feed) Topic() string { return f.info.Address }

func (f *Feed) infoDict() map[string]any { return f.dict }

// send publishes one feed event: a single argument, [message, feed_info].
func (f *Feed) send(message any) error {
	if err := f.a.publish(f.info.Address, []any{[]any{message, f.dict}}); err != nil {
		return fmt.Errorf("feed %s: %w", f.info.Address, err)
	}
	return nil
}

// Publish publishes a message as OCS's publish_to_feed does. For a feed
// without Record the message (any serializable value) is sent at once,
// unchanged. For a recorded feed it must be a map in one of OCS's two
// shapes, {"block_name": b, "timestamp": t, "data": {field: value}} or
// {"block_name": b, "timestamps": [t...], "data": {field: [value...]}};
// it is checked and buffered like PublishSample and PublishBlock.
func (f *Feed) Publish(message any) error {
	if !f.info.Record {
		return f.send(message)
	}
	m, ok := normalize(message).(map[string]any)
	if !ok {
		return fmt.Errorf("feed %s: a recorded feed needs a block message, got %s", f.info.Address, pyTypeName(normalize(message)))
	}
	block, _ := m["block_name"].(string)
	data, _ := m["data"].(map[string]any)
	if data == nil {
		return fmt.Errorf("feed %s: message has no 'data' object", f.info.Address)
	}
	if ts, ok := m["timestamp"]; ok {
		t, ok := pyNumber(ts)
		if !ok {
			return fmt.Errorf("feed %s: block %q: timestamp is not a number", f.info.Address, block)
		}
		tf, _ := t.Float64()
		return f.PublishSample(block, tf, data)
	}
	if ts, ok := m["timestamps"].([]any); ok {
		times := make([]float64, len(ts))
		for i, v := range ts {
			t, ok := pyNumber(v)
			if !ok {
				return fmt.Errorf("feed %s: block %q: timestamp %d is not a number", f.info.Address, block, i)
			}
			times[i], _ = t.Float64()
		}
		return f.PublishBlock(block, times, data)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ks := make([]any, len(keys))
	for i, k := range keys {
		ks[i] = k
	}
	return fmt.Errorf("feed %s: Invalid message when record=True.  keys=dict_keys(%s)", f.info.Address, pyRepr(ks))
}

// PublishSample adds one sample of a block to a recorded feed: one
// timestamp (Unix seconds) and one value per field. Values must be float,
// integer, bool or string; field names must follow OCS's rules.
func (f *Feed) PublishSample(block string, timestamp float64, data map[string]any) error {
	if !f.info.Record {
		return fmt.Errorf("feed %s: PublishSample needs a recorded feed", f.info.Address)
	}
	cols := make(map[string][]any, len(data))
	for k, v := range data {
		if err := verifyFieldName(k); err != nil {
			return fmt.Errorf("feed %s: block %q: %w", f.info.Address, block, err)
		}
		val, err := sampleValue(v)
		if err != nil {
			return fmt.Errorf("feed %s: block %q: field %q: %w", f.info.Address, block, k, err)
		}
		cols[k] = []any{val}
	}
	return f.add(block, []any{timestamp}, cols)
}

// PublishBlock adds several samples of a block to a recorded feed: data
// maps each field to a slice ([]float64, []int64, []any, ...) with one
// value per timestamp.
func (f *Feed) PublishBlock(block string, timestamps []float64, data map[string]any) error {
	if !f.info.Record {
		return fmt.Errorf("feed %s: PublishBlock needs a recorded feed", f.info.Address)
	}
	ts := make([]any, len(timestamps))
	for i, t := range timestamps {
		ts[i] = t
	}
	cols := make(map[string][]any, len(data))
	for k, v := range data {
		if err := verifyFieldName(k); err != nil {
			return fmt.Errorf("feed %s: block %q: %w", f.info.Address, block, err)
		}
		list, ok := normalize(v).([]any)
		if !ok {
			return fmt.Errorf("feed %s: block %q: field %q: a multi-sample block needs a list per field", f.info.Address, block, k)
		}
		for i, e := range list {
			val, err := sampleValue(e)
			if err != nil {
				return fmt.Errorf("feed %s: block %q: field %q: value %d: %w", f.info.Address, block, k, i, err)
			}
			list[i] = val
		}
		if len(list) != len(ts) {
			return fmt.Errorf("feed %s: block %q: field %q has %d values for %d timestamps", f.info.Address, block, k, len(list), len(ts))
		}
		cols[k] = list
	}
	return f.add(block, ts, cols)
}

// add appends checked samples to the block buffer and flushes when the
// buffer time has passed.
func (f *Feed) add(block string, ts []any, cols map[string][]any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.blocks[block]
	if b == nil {
		b = &pendingBlock{index: map[string]int{}}
		for k := range cols {
			b.fields = append(b.fields, k)
		}
		sort.Strings(b.fields)
		b.values = make([][]any, len(b.fields))
		for i, k := range b.fields {
			b.index[k] = i
		}
		f.blocks[block] = b
		f.order = append(f.order, block)
	}
	if len(cols) != len(b.fields) {
		return fmt.Errorf("feed %s: Block structure does not match: %s", f.info.Address, block)
	}
	for k := range cols {
		if _, ok := b.index[k]; !ok {
			return fmt.Errorf("feed %s: Block structure does not match: %s", f.info.Address, block)
		}
	}
	b.timestamps = append(b.timestamps, ts...)
	for k, vs := range cols {
		i := b.index[k]
		b.values[i] = append(b.values[i], vs...)
	}
	now := f.a.now()
	if !f.pending {
		f.pending = true
		f.bufStart = now
	}
	if now.Sub(f.bufStart) >= f.bufferTime {
		return f.flushLocked()
	}
	return nil
}

// Flush sends what a recorded feed has buffered (nothing if empty).
func (f *Feed) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flushLocked()
}

// flushLocked publishes every non-empty block as one event and clears the
// buffer, whether or not the publish succeeded (as in OCS).
func (f *Feed) flushLocked() error {
	if !f.pending {
		return nil
	}
	f.pending = false
	msg := make(map[string]any, len(f.blocks))
	for _, name := range f.order {
		b := f.blocks[name]
		if len(b.timestamps) == 0 {
			continue
		}
		data := make(map[string]any, len(b.fields))
		for i, k := range b.fields {
			data[k] = b.values[i]
			b.values[i] = nil // the published slices now belong to the event
		}
		msg[name] = map[string]any{"block_name": name, "data": data, "timestamps": b.timestamps}
		b.timestamps = nil
	}
	return f.send(msg)
}

// sampleValue checks one recorded value: float, int, bool or str.
func sampleValue(v any) (any, error) {
	switch x := normalize(v).(type) {
	case float64, int64, uint64, bool, string:
		return x, nil
	case nil:
		return nil, errors.New("message 'data' block contains invalid data type: <class 'NoneType'>")
	default:
		return nil, fmt.Errorf("message 'data' block contains invalid data type: <class '%s'>", pyTypeName(x))
	}
}

// verifyFieldName applies OCS's field-name rules (Feed.verify_data_field_string).
func verifyFieldName(field string) error {
	if field == "" {
		return errors.New("Empty field name encountered, please enter a valid field name.")
	}
	for _, r := range field {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("message 'data' block contains the key %s with the invalid character '%c'. Valid characters are a-z, A-Z, 0-9, and underscore.", field, r)
		}
	}
	stripped := strings.Trim(field, "_")
	if stripped != "" && !(stripped[0] >= 'a' && stripped[0] <= 'z' || stripped[0] >= 'A' && stripped[0] <= 'Z') {
		return fmt.Errorf("message 'data' block contains the key %s, which does not start with a letter (after any number of leading underscores.)", field)
	}
	if len(field) > 255 {
		return fmt.Errorf("message 'data' block contains key %s which exceeds the valid length of 255 characters.", field)
	}
	return nil
}
