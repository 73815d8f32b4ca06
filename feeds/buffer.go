package feeds

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// BufferConfig configures the Buffer of one recorded feed.
type BufferConfig struct {
	// Info is the feed's feed_info. Record must be true; AgentAddress and
	// FeedName must be set; Address defaults to FeedAddress(AgentAddress,
	// FeedName).
	Info Info
	// BufferTime is OCS's buffer_time (ocs-protocol.md §6.4). The default,
	// 0, sends every publish at once; the FakeDataAgent uses 1 s.
	BufferTime time.Duration
}

// Validate checks the configuration after filling in defaults.
func (c *BufferConfig) Validate() error {
	if c.Info.Address == "" {
		c.Info.Address = FeedAddress(c.Info.AgentAddress, c.Info.FeedName)
	}
	switch {
	case c.Info.AgentAddress == "":
		return errors.New("feed buffer: agent address is empty")
	case c.Info.FeedName == "":
		return errors.New("feed buffer: feed name is empty")
	case !c.Info.Record:
		return fmt.Errorf("feed buffer %s: record is false (only recorded feeds are buffered)", c.Info.Address)
	case c.BufferTime < 0:
		return fmt.Errorf("feed buffer %s: buffer time %v is negative", c.Info.Address, c.BufferTime)
	}
	return nil
}

// Sample is a single-sample publish, OCS's
// {"block_name": b, "timestamp": t, "data": {field: value, ...}}.
type Sample struct {
	BlockName string
	Timestamp float64 // Unix seconds
	Data      map[string]Value
}

// Buffer is the publishing side of one recorded feed, as OCS's Feed
// (ocs_feed.py, ocs-protocol.md §6.4): it checks each publish, accumulates
// samples per block, and says when to publish. There is no timer: when a
// publish is added and no buffer is pending, the buffer starts; the buffer is
// flushed when, at an add, now − start ≥ BufferTime, or by Flush. A Buffer
// is not safe for concurrent use; its owner serialises calls.
type Buffer struct {
	info       Info
	bufferTime time.Duration
	blocks     []*pendingBlock // in order of first publish, as Python's dict
	start      time.Time
	pending    bool
}

// pendingBlock is one block's fixed field set and its buffered samples.
type pendingBlock struct {
	name   string
	fields []string       // in the order of the first publish
	index  map[string]int // field name → column
	ts     []float64
	vals   [][]Value // per column
}

// NewBuffer returns an empty buffer for the feed of cfg.
func NewBuffer(cfg BufferConfig) (*Buffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Buffer{info: cfg.Info, bufferTime: cfg.BufferTime}, nil
}

// Info returns the feed's feed_info.
func (b *Buffer) Info() Info { return b.info }

// AddSample adds a single-sample publish at time now. It returns an error,
// and buffers nothing, when a field name breaks OCS's rules (the
// *FieldNameError text is OCS's), a value is not a float, int, bool or
// string, or the block's field set differs from its first publish
// ("Block structure does not match: <name>"). When the buffer is due, ok is
// true and msg is the event to publish (msg.Args()); it may have no blocks,
// which OCS publishes as {}.
func (b *Buffer) AddSample(now time.Time, s Sample) (msg Message, ok bool, err error) {
	names := make([]string, 0, len(s.Data))
	for name := range s.Data {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := b.checkName(s.BlockName, name); err != nil {
			return Message{}, false, err
		}
		if err := b.checkValue(s.BlockName, name, s.Data[name]); err != nil {
			return Message{}, false, err
		}
	}
	pb := b.block(s.BlockName, names)
	if len(s.Data) != len(pb.fields) {
		return Message{}, false, b.mismatch(s.BlockName)
	}
	for _, name := range pb.fields {
		if _, found := s.Data[name]; !found {
			return Message{}, false, b.mismatch(s.BlockName)
		}
	}
	pb.ts = append(pb.ts, s.Timestamp)
	for col, name := range pb.fields {
		pb.vals[col] = append(pb.vals[col], s.Data[name])
	}
	msg, ok = b.added(now)
	return msg, ok, nil
}

// AddBlock adds a multi-sample publish, OCS's
// {"block_name": b, "timestamps": [...], "data": {field: [...]}}, at time
// now. Besides AddSample's checks it rejects duplicate field names and a
// field whose number of values differs from the number of timestamps
// (Python would publish such a block and break its consumers). The values
// are copied.
func (b *Buffer) AddBlock(now time.Time, blk Block) (msg Message, ok bool, err error) {
	names := make([]string, len(blk.Fields))
	for i, f := range blk.Fields {
		if err := b.checkName(blk.Name, f.Name); err != nil {
			return Message{}, false, err
		}
		for _, v := range f.Values {
			if err := b.checkValue(blk.Name, f.Name, v); err != nil {
				return Message{}, false, err
			}
		}
		names[i] = f.Name
	}
	for i, f := range blk.Fields {
		if slices.Contains(names[:i], f.Name) {
			return Message{}, false, fmt.Errorf("publish to feed %s block %q: duplicate field %q", b.info.Address, blk.Name, f.Name)
		}
		if len(f.Values) != len(blk.Timestamps) {
			return Message{}, false, fmt.Errorf("publish to feed %s block %q: field %q has %d values for %d timestamps",
				b.info.Address, blk.Name, f.Name, len(f.Values), len(blk.Timestamps))
		}
	}
	pb := b.block(blk.Name, names)
	if len(blk.Fields) != len(pb.fields) {
		return Message{}, false, b.mismatch(blk.Name)
	}
	for _, f := range blk.Fields {
		if _, found := pb.index[f.Name]; !found {
			return Message{}, false, b.mismatch(blk.Name)
		}
	}
	pb.ts = append(pb.ts, blk.Timestamps...)
	for _, f := range blk.Fields {
		col := pb.index[f.Name]
		pb.vals[col] = append(pb.vals[col], f.Values...)
	}
	msg, ok = b.added(now)
	return msg, ok, nil
}

// Flush returns the pending buffer as an event to publish and empties it;
// ok is false when nothing is pending (OCS's flush_buffer then publishes
// nothing). Agents call it when an acquisition ends.
func (b *Buffer) Flush() (msg Message, ok bool) {
	if !b.pending {
		return Message{}, false
	}
	b.pending = false
	msg = Message{Info: b.info}
	for _, pb := range b.blocks {
		if len(pb.ts) == 0 {
			continue
		}
		blk := Block{Name: pb.name, Timestamps: pb.ts, Fields: make([]Field, len(pb.fields))}
		for col, name := range pb.fields {
			blk.Fields[col] = Field{Name: name, Values: pb.vals[col]}
			pb.vals[col] = nil
		}
		pb.ts = nil
		msg.Blocks = append(msg.Blocks, blk)
	}
	return msg, true
}

// added runs OCS's buffer_time rule after a publish was buffered.
func (b *Buffer) added(now time.Time) (Message, bool) {
	if !b.pending {
		b.pending, b.start = true, now
	}
	if now.Sub(b.start) >= b.bufferTime {
		return b.Flush()
	}
	return Message{}, false
}

// checkName verifies a field name as OCS's Feed.publish_message does.
func (b *Buffer) checkName(block, field string) error {
	if err := VerifyFieldName(field); err != nil {
		return fmt.Errorf("publish to feed %s block %q: %w", b.info.Address, block, err)
	}
	return nil
}

// checkValue verifies a value's type as OCS's Feed.publish_message does.
func (b *Buffer) checkValue(block, field string, v Value) error {
	switch v.Kind {
	case KindFloat, KindInt, KindBool, KindString:
		return nil
	}
	return fmt.Errorf("publish to feed %s block %q field %q: message 'data' block contains invalid data type: %s",
		b.info.Address, block, field, kindName(v.Kind))
}

func kindName(k Kind) string {
	if k <= KindString {
		return k.String()
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

func (b *Buffer) mismatch(block string) error {
	return fmt.Errorf("publish to feed %s: Block structure does not match: %s", b.info.Address, block)
}

// block returns the pending block of that name, creating it with the given
// field set if it is new (Python creates it before checking the structure).
func (b *Buffer) block(name string, fields []string) *pendingBlock {
	for _, pb := range b.blocks {
		if pb.name == name {
			return pb
		}
	}
	pb := &pendingBlock{
		name:   name,
		fields: slices.Clone(fields),
		index:  make(map[string]int, len(fields)),
		vals:   make([][]Value, len(fields)),
	}
	for i, f := range fields {
		pb.index[f] = i
	}
	b.blocks = append(b.blocks, pb)
	return pb
}
