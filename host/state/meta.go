package state

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's file format (version 2), as much of it as checkFile needs: each
// of the first two pages holds a meta page, a 16-byte page header then
// the meta fields below, and the meta with the higher transaction id whose
// checksum holds is the current one. bbolt itself panics or faults on a
// file shorter than its meta says, so the length is checked here first.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16
	metaSize       = 64 // up to and including the checksum
	metaSumSize    = 56 // the checksum covers the fields before it
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64 // high water mark: pages the file must have
	txid     uint64
}

// readMeta decodes the meta page at off; ok is false when it is not a
// valid meta page.
func readMeta(f io.ReaderAt, off int64) (m boltMeta, ok bool) {
	buf := make([]byte, pageHeaderSize+metaSize)
	if _, err := f.ReadAt(buf, off); err != nil {
		return m, false
	}
	meta := buf[pageHeaderSize:]
	le := binary.LittleEndian
	if le.Uint32(meta[0:]) != boltMagic || le.Uint32(meta[4:]) != boltVersion {
		return m, false
	}
	h := fnv.New64a()
	h.Write(meta[:metaSumSize])
	if h.Sum64() != le.Uint64(meta[metaSumSize:]) {
		return m, false
	}
	m = boltMeta{pageSize: le.Uint32(meta[8:]), pgid: le.Uint64(meta[40:]), txid: le.Uint64(meta[48:])}
	if m.pageSize < 512 || m.pageSize > 1<<20 || m.pageSize&(m.pageSize-1) != 0 {
		return m, false
	}
	return m, true
}

// checkFile reports whether the file at path looks like a whole bbolt
// file: a valid meta page and at least as many bytes as it says it has.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	m0, ok0 := readMeta(f, 0)
	var m boltMeta
	switch {
	case ok0:
		m = m0
		if m1, ok1 := readMeta(f, int64(m0.pageSize)); ok1 && m1.txid > m0.txid {
			m = m1
		}
	default:
		// The first meta page is damaged; bbolt falls back on the second,
		// whose offset is the page size, unknown here: try the usual ones.
		found := false
		for _, ps := range []int64{4096, 8192, 16384, 65536} {
			if m1, ok := readMeta(f, ps); ok && int64(m1.pageSize) == ps {
				m, found = m1, true
				break
			}
		}
		if !found {
			return errNotBolt
		}
	}
	if want := int64(m.pgid) * int64(m.pageSize); fi.Size() < want {
		return fmt.Errorf("%w: it has %d bytes of the %d its header records", errTruncated, fi.Size(), want)
	}
	return nil
}
