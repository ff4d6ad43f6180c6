package spillsort

import "encoding/binary"

// AppendString appends s to a key so that keys compare like their fields: 0x00 inside s
// becomes 0x00 0xFF and s ends with 0x00 0x01, so a prefix sorts first and no string's end
// can be mistaken for the next field.
func AppendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			dst = append(dst, 0, 0xFF)
			continue
		}
		dst = append(dst, s[i])
	}
	return append(dst, 0, 1)
}

// AppendInt64 appends v so that keys compare like the signed integers.
func AppendInt64(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v)^(1<<63))
}
