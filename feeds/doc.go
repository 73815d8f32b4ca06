// Package feeds owns the OCS feed message model: the feed_info that every
// feed event carries, the blocks of a recorded feed message, decoding an
// event's arguments into typed blocks whatever the WAMP serializer (JSON,
// msgpack, CBOR), validating them, and OCS's field-name rules.
//
// Receiving: DecodeEvent takes the arguments a WAMP client delivers,
// DecodeEventJSON the same as JSON text (keeping block and field order).
// Both return a [Message] and, per agent, feed, block and field, the
// [Problem]s they had to reject; integers stay integers and floats stay
// floats (ocs-protocol.md §1.1). They read the additions of OCS v0.12.1
// as its publisher does: a block holding one "timestamp" and single
// values (PR #466) is the one-sample block, and a block's influxdb_tags
// (PR #467) become its [TagSet]s ([Block.Tagged]).
//
// Msgpack WAMP messages: DecodeMsgpackEvent decodes an EVENT into the
// generic tree nexus's serializer would build (the agents package's
// WebSocket peer uses it for every EVENT); [MsgpackFeedDecoder] decodes a
// feed EVENT straight into a Message, exactly as DecodeEvent would, for a
// subscriber that receives events undecoded (agents.RawMsgpack, used by
// the InfluxDB publisher), declining every event it does not handle
// exactly so that the caller takes the generic path;
// DecodeMsgpackEventHead and MsgpackEventSubscription read an EVENT's
// head for that peer.
//
// Publishing: [Buffer] is OCS's Feed for a Go agent (checks, per-block
// accumulation, buffer_time); Message.Args and EventArgs build the single
// WAMP argument [message, feed_info]; FormatSessionID and AppendFloatRepr
// write floats as Python does.
//
// It does not hold WAMP connections and does not write anything. The
// publisher package turns messages into line protocol; the agents package
// publishes and subscribes.
package feeds
