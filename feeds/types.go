package feeds

// Kind is the type of one field value. It decides the InfluxDB field type:
// an int published by an agent stays an integer field, a float stays a float
// even when integral (2.0), bools and strings keep their types.
type Kind uint8

// The value kinds an OCS recorded feed may carry. KindInvalid (the zero
// Value) marks an absent value: one DecodeEvent dropped and reported as a
// Problem; writers skip it.
const (
	KindInvalid Kind = iota
	KindFloat
	KindInt
	KindBool
	KindString
)

// String returns the InfluxDB name of the kind ("float", "integer",
// "boolean", "string").
func (k Kind) String() string {
	switch k {
	case KindFloat:
		return "float"
	case KindInt:
		return "integer"
	case KindBool:
		return "boolean"
	case KindString:
		return "string"
	}
	return "invalid"
}

// Value is one sample of one field: a tagged union, so a block of values is
// one allocation and no value is boxed in an interface.
type Value struct {
	Kind Kind
	F    float64 // KindFloat
	I    int64   // KindInt
	B    bool    // KindBool
	S    string  // KindString
}

// Float returns a float Value.
func Float(f float64) Value { return Value{Kind: KindFloat, F: f} }

// Int returns an integer Value.
func Int(i int64) Value { return Value{Kind: KindInt, I: i} }

// Bool returns a boolean Value.
func Bool(b bool) Value { return Value{Kind: KindBool, B: b} }

// String returns a string Value.
func String(s string) Value { return Value{Kind: KindString, S: s} }

// Field is one column of a block: a field name and one value per timestamp.
type Field struct {
	Name   string
	Values []Value
}

// Block is one named group of fields sampled at the same timestamps
// (Unix seconds). len(Values) of every field equals len(Timestamps) after
// decoding. Fields keep the order of the message where the decoder could see
// it (ordered JSON); otherwise they are sorted by name.
//
// Tags is nil unless the block carried influxdb_tags (OCS v0.12.1, PR
// #467); then Tags[i] is the tag set of Fields[i], and each value is
// written as its own point: measurement = the feed's agent_class, tags
// feed, address_root and instance_id, then Tags[i].Tags, field key
// Tags[i].Field. An untagged block (no influxdb_tags, or null, as OCS
// v0.12.1 agents send when they give none) keeps the older schema: one
// point per timestamp with every field.
type Block struct {
	Name       string
	Timestamps []float64
	Fields     []Field
	Tags       []TagSet
}

// Tagged reports whether the block carried influxdb_tags (Tags is not nil).
func (b Block) Tagged() bool { return b.Tags != nil }

// TagSet is the tag set of one field of a tagged block, from the block's
// influxdb_tags: Field is its '_field' (the InfluxDB field key the field's
// values are written under), Tags its other tags. Both are converted to
// text as Python's str() does (an int 1 is "1", True is "True", 0.5 is
// "0.5"). Tags keep the order of the message where the decoder could see
// it (ordered JSON); otherwise they are sorted by key.
type TagSet struct {
	Field string
	Tags  []Tag
}

// Tag is one InfluxDB tag of a field of a tagged block.
type Tag struct {
	Key, Value string
}

// Info is an OCS feed_info: the seven keys every feed event carries next to
// its message (ocs-protocol.md §6.2).
type Info struct {
	AgentAddress string         `json:"agent_address"`
	AggParams    map[string]any `json:"agg_params"`
	FeedName     string         `json:"feed_name"`
	Address      string         `json:"address"`
	Record       bool           `json:"record"`
	SessionID    string         `json:"session_id"`
	AgentClass   *string        `json:"agent_class"`
}

// Message is one decoded feed event: its feed_info and, for a recorded feed,
// the blocks that held samples.
type Message struct {
	Info   Info
	Blocks []Block
}
