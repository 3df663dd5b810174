package meilitest

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// newUUIDv4 is a random RFC 4122 UUID, lower-case hyphenated.
func newUUIDv4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return keyFormatUUID(b)
}

// newUUIDv7 is a time-ordered UUID (RFC 9562 version 7), as uuid::Uuid::now_v7.
func newUUIDv7() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(time.Now().UnixMilli()))
	copy(b[0:6], ms[2:8])
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return keyFormatUUID(b)
}
