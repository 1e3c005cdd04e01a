package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Every value the state file keeps is framed: a tag byte, the CRC-32C of
// its key and payload, then the payload. bbolt checks the structure of its
// pages, not what is in them, so a damaged byte inside a value would pass
// its check and come back as a wrong checkpoint or a decode error much
// later; the checksum finds it at open, where the whole file is read, and
// at every read. The key is in the sum so that a value found under another
// key (a damaged key) fails too. CRC-32C is what the hardware computes,
// so checking a whole file costs little next to reading it.
const (
	frameTag  = 0x01 // never the first byte of JSON, which the payloads of format 1 were
	frameHead = 1 + 4
)

// crcTable is CRC-32C's table; never written after it is made.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errUnreadable is wrapped by the errors of a stored value that fails its
// checksum or does not decode: the file is damaged there.
var errUnreadable = errors.New("a stored value is damaged")

func valueSum(key, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, crcTable, key), crcTable, payload)
}

// frame makes the stored form of payload under key.
func frame(key, payload []byte) []byte {
	v := make([]byte, frameHead, frameHead+len(payload))
	v[0] = frameTag
	binary.BigEndian.PutUint32(v[1:], valueSum(key, payload))
	return append(v, payload...)
}

// framed reports whether v is a framed value; JSON never starts with the
// tag.
func framed(v []byte) bool { return len(v) > 0 && v[0] == frameTag }

// unframe returns the payload of the value v stored under key, after
// checking its sum; the payload shares v's memory.
func unframe(key, v []byte) ([]byte, error) {
	if len(v) < frameHead || !framed(v) {
		return nil, fmt.Errorf("%w: it has no checksum", errUnreadable)
	}
	payload := v[frameHead:]
	if binary.BigEndian.Uint32(v[1:]) != valueSum(key, payload) {
		return nil, fmt.Errorf("%w: it fails its checksum", errUnreadable)
	}
	return payload, nil
}
