// Package feeds owns the OCS feed message model: the feed_info that every
// feed event carries, the blocks of a recorded feed message, decoding an
// event's arguments into typed blocks whatever the WAMP serializer (JSON,
// msgpack, CBOR), validating them, and OCS's field-name rules.
//
// It does not speak WAMP and does not write anything: it turns what arrived
// into [Message] values and says, per agent, feed, block and field, what it
// had to reject. The publisher package turns messages into line protocol; the
// agents package publishes and subscribes.
package feeds
