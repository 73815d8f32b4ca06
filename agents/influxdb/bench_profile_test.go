package influxdb_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// profileShares sums the CPU time of a CPU profile (as written by
// runtime/pprof: gzipped protobuf, profile.proto) by the value of the
// goroutine label key; samples without that label are summed under "".
//
// It reads only what it needs of profile.proto: sample_type (field 1;
// ValueType type=1, unit=2), sample (2; location_id=1, value=2, label=3;
// Label key=1, str=2) and string_table (6).
func profileShares(gz []byte, key string) (map[string]time.Duration, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	type sample struct {
		values []int64
		labels [][2]int64 // key, str string indices
	}
	var (
		samples []sample
		types   [][2]int64 // type, unit string indices
		strs    []string
	)
	err = protoFields(data, func(num int, v uint64, b []byte) error {
		switch num {
		case 1:
			var t [2]int64
			err := protoFields(b, func(num int, v uint64, _ []byte) error {
				if num == 1 || num == 2 {
					t[num-1] = int64(v)
				}
				return nil
			})
			types = append(types, t)
			return err
		case 2:
			var s sample
			err := protoFields(b, func(num int, v uint64, b []byte) error {
				switch num {
				case 2:
					if b == nil {
						s.values = append(s.values, int64(v))
						return nil
					}
					for len(b) > 0 {
						x, n := binary.Uvarint(b)
						if n <= 0 {
							return errors.New("bad packed value")
						}
						s.values = append(s.values, int64(x))
						b = b[n:]
					}
				case 3:
					var l [2]int64
					err := protoFields(b, func(num int, v uint64, _ []byte) error {
						if num == 1 || num == 2 {
							l[num-1] = int64(v)
						}
						return nil
					})
					if err != nil {
						return err
					}
					s.labels = append(s.labels, l)
				}
				return nil
			})
			samples = append(samples, s)
			return err
		case 6:
			strs = append(strs, string(b))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	str := func(i int64) string {
		if i < 0 || i >= int64(len(strs)) {
			return ""
		}
		return strs[i]
	}
	cpu := -1
	for i, t := range types {
		if str(t[0]) == "cpu" && str(t[1]) == "nanoseconds" {
			cpu = i
		}
	}
	if cpu < 0 {
		return nil, fmt.Errorf("no cpu/nanoseconds sample type in %d types", len(types))
	}
	out := map[string]time.Duration{}
	for _, s := range samples {
		if cpu >= len(s.values) {
			continue
		}
		side := ""
		for _, l := range s.labels {
			if str(l[0]) == key {
				side = str(l[1])
			}
		}
		out[side] += time.Duration(s.values[cpu])
	}
	return out, nil
}

// protoFields calls f for each field of a protobuf message: varints with
// v, length-delimited fields with b (non-nil); fixed-size fields are
// skipped.
func protoFields(data []byte, f func(num int, v uint64, b []byte) error) error {
	for len(data) > 0 {
		tag, n := binary.Uvarint(data)
		if n <= 0 {
			return errors.New("bad tag")
		}
		data = data[n:]
		num, typ := int(tag>>3), tag&7
		switch typ {
		case 0:
			v, n := binary.Uvarint(data)
			if n <= 0 {
				return errors.New("bad varint")
			}
			data = data[n:]
			if err := f(num, v, nil); err != nil {
				return err
			}
		case 1:
			if len(data) < 8 {
				return errors.New("short fixed64")
			}
			data = data[8:]
		case 2:
			l, n := binary.Uvarint(data)
			if n <= 0 || uint64(len(data)-n) < l {
				return errors.New("bad length")
			}
			b := data[n : n+int(l)]
			data = data[n+int(l):]
			if b == nil {
				b = []byte{}
			}
			if err := f(num, 0, b); err != nil {
				return err
			}
		case 5:
			if len(data) < 4 {
				return errors.New("short fixed32")
			}
			data = data[4:]
		default:
			return fmt.Errorf("unsupported wire type %d", typ)
		}
	}
	return nil
}
