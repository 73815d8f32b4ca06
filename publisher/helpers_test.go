package publisher_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/feeds"
)

// The tests build feeds.Message values themselves: the feeds decoder is
// another package's concern. decodeEvent reads an OCS feed event argument
// ([[message, feed_info]], ocs-protocol.md §6) keeping the order of the
// message's blocks and fields, and telling 2 (int) from 2.0 (float) by the
// JSON text, as the Python agent does.

func loadEvent(t testing.TB, path string) *feeds.Message {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeEvent(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func decodeEvent(data []byte) (*feeds.Message, error) {
	var arg []json.RawMessage
	if err := json.Unmarshal(data, &arg); err != nil || len(arg) != 1 {
		return nil, fmt.Errorf("event: want one argument: %v", err)
	}
	var pair []json.RawMessage
	if err := json.Unmarshal(arg[0], &pair); err != nil || len(pair) != 2 {
		return nil, fmt.Errorf("event: want [message, feed_info]: %v", err)
	}
	m := &feeds.Message{}
	if err := json.Unmarshal(pair[1], &m.Info); err != nil {
		return nil, fmt.Errorf("feed_info: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(pair[0]))
	dec.UseNumber()
	err := orderedObject(dec, func(name string) error {
		var b feeds.Block
		b.Name = name
		err := orderedObject(dec, func(key string) error {
			switch key {
			case "timestamps":
				var ts []json.Number
				if err := dec.Decode(&ts); err != nil {
					return err
				}
				for _, n := range ts {
					f, err := strconv.ParseFloat(string(n), 64)
					if err != nil {
						return err
					}
					b.Timestamps = append(b.Timestamps, f)
				}
			case "data":
				return orderedObject(dec, func(field string) error {
					var raw []any
					if err := dec.Decode(&raw); err != nil {
						return err
					}
					f := feeds.Field{Name: field}
					for _, v := range raw {
						f.Values = append(f.Values, jsonValue(v))
					}
					b.Fields = append(b.Fields, f)
					return nil
				})
			default:
				var skip any
				return dec.Decode(&skip)
			}
			return nil
		})
		m.Blocks = append(m.Blocks, b)
		return err
	})
	return m, err
}

// orderedObject calls fn for each key of the next JSON object; fn must
// consume the value.
func orderedObject(dec *json.Decoder, fn func(key string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("want object, got %v", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if err := fn(tok.(string)); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}

func jsonValue(v any) feeds.Value {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if strings.ContainsAny(s, ".eE") {
			f, _ := strconv.ParseFloat(s, 64)
			return feeds.Float(f)
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return feeds.Value{}
		}
		return feeds.Int(i)
	case bool:
		return feeds.Bool(x)
	case string:
		return feeds.String(x)
	}
	return feeds.Value{} // null, array, object
}

// msg builds a one-block message.
func msg(agent, feed string, ts []float64, fields ...feeds.Field) *feeds.Message {
	return &feeds.Message{
		Info:   feeds.Info{AgentAddress: agent, FeedName: feed, Record: true, AggParams: map[string]any{}},
		Blocks: []feeds.Block{{Name: "b", Timestamps: ts, Fields: fields}},
	}
}

func field(name string, vals ...feeds.Value) feeds.Field {
	return feeds.Field{Name: name, Values: vals}
}

// floats makes n float fields f00.. with one value each per timestamp.
func benchMessage(points, nFields int) *feeds.Message {
	ts := make([]float64, points)
	for i := range ts {
		ts[i] = 1795294689.578768 + float64(i)*0.2
	}
	var fs []feeds.Field
	for f := 0; f < nFields; f++ {
		vals := make([]feeds.Value, points)
		for i := range vals {
			// FakeDataAgent-like values: 16-17 significant digits.
			vals[i] = feeds.Float(0.1 + 0.01*math.Sin(float64(i*nFields+f)))
		}
		fs = append(fs, feeds.Field{Name: fmt.Sprintf("channel_%02d", f), Values: vals})
	}
	return msg("observatory.fake-data1", "false_temperatures", ts, fs...)
}
