package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"syscall"
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

// bbolt's pages, from its meta's root bucket down: a page header (id,
// flags, count of elements, overflow pages), then the elements, each 16
// bytes, whose keys and values lie at an offset from the element itself.
// A leaf element flagged as a bucket has a bucket header as its value:
// the bucket's root page, or 0 and the bucket's page inline after it.
const (
	branchPage     = 0x01
	leafPage       = 0x02
	elementSize    = 16
	bucketElement  = 0x01
	bucketHeadSize = 16
)

type boltMeta struct {
	pageSize uint32
	root     uint64 // the root bucket's page
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
	m = boltMeta{pageSize: le.Uint32(meta[8:]), root: le.Uint64(meta[16:]), pgid: le.Uint64(meta[40:]), txid: le.Uint64(meta[48:])}
	if m.pageSize < 512 || m.pageSize > 1<<20 || m.pageSize&(m.pageSize-1) != 0 {
		return m, false
	}
	return m, true
}

// checkFile reports whether the file at path looks like a whole bbolt
// file: a valid meta page and at least as many bytes as it says it has.
// It runs before bbolt opens the file, whose lock it does not hold, so it
// reads no more than the meta pages, which another process's writes leave
// whole.
func checkFile(path string) error {
	f, size, err := openSized(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = currentMeta(f, size)
	return err
}

// openSized opens the file at path for reading, with its size.
func openSized(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// currentMeta returns the meta page bbolt uses, having checked that the
// file, size bytes long, has the pages it records.
func currentMeta(f io.ReaderAt, size int64) (boltMeta, error) {
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
			return m, errNotBolt
		}
	}
	if want := int64(m.pgid) * int64(m.pageSize); size < want {
		return m, fmt.Errorf("%w: it has %d bytes of the %d its header records", errTruncated, size, want)
	}
	return m, nil
}

// checkPages walks the pages of the bbolt file at path from its root and
// finds the references that lead outside the file or outside their page.
// bbolt follows them through its memory map, where a damaged one faults;
// its own check runs in a goroutine of its own, where the fault ends the
// process. After this walk, every key and value bbolt reaches lies within
// the file. It runs with the file's lock held, so that no write is under
// way, and walks a read-only map of the file, which costs no copy.
func checkPages(path string) error {
	f, size, err := openSized(path)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mapping the file: %w", err)
	}
	defer syscall.Munmap(data) //nolint:errcheck // nothing to do about it
	m, err := currentMeta(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	c := &pageCheck{data: data, pageSize: uint64(m.pageSize), seen: make([]bool, m.pgid)}
	return c.tree(m.root)
}

// pageCheck is a walk of checkPages.
type pageCheck struct {
	data     []byte
	pageSize uint64
	seen     []bool // by page id; its length is the file's high water mark
}

// tree checks the page id and the pages below it.
func (c *pageCheck) tree(id uint64) error {
	p, err := c.page(id)
	if err != nil {
		return err
	}
	return c.node(p, id)
}

// page returns page id with its overflow pages.
func (c *pageCheck) page(id uint64) ([]byte, error) {
	hwm := uint64(len(c.seen))
	if id < 2 || id >= hwm {
		return nil, fmt.Errorf("a page refers to page %d, outside the file's %d pages", id, hwm)
	}
	head := c.data[id*c.pageSize:]
	le := binary.LittleEndian
	if got := le.Uint64(head); got != id {
		return nil, fmt.Errorf("page %d holds page %d", id, got)
	}
	overflow := uint64(le.Uint32(head[12:]))
	if overflow >= hwm-id {
		return nil, fmt.Errorf("page %d runs past the file's %d pages", id, hwm)
	}
	for i := id; i <= id+overflow; i++ {
		if c.seen[i] {
			return nil, fmt.Errorf("page %d is reached twice", i)
		}
		c.seen[i] = true
	}
	return c.data[id*c.pageSize : (id+overflow+1)*c.pageSize], nil
}

// node checks a branch or leaf page, p, and what its elements refer to.
// id is the page's id, or for a bucket's page inline in a value, the id of
// the page holding that value.
func (c *pageCheck) node(p []byte, id uint64) error {
	if len(p) < pageHeaderSize {
		return fmt.Errorf("page %d: a bucket's page inline is cut short", id)
	}
	le := binary.LittleEndian
	flags, count := le.Uint16(p[8:]), int(le.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		return fmt.Errorf("page %d has more elements (%d) than fit in it", id, count)
	}
	for i := range count {
		at := pageHeaderSize + i*elementSize
		e := p[at:]
		switch flags {
		case branchPage:
			pos, ksize := uint64(le.Uint32(e[0:])), uint64(le.Uint32(e[4:]))
			if uint64(at)+pos+ksize > uint64(len(p)) {
				return fmt.Errorf("page %d: the key of element %d lies outside the page", id, i)
			}
			if err := c.tree(le.Uint64(e[8:])); err != nil {
				return err
			}
		case leafPage:
			pos, ksize, vsize := uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
			start, end := uint64(at)+pos+ksize, uint64(at)+pos+ksize+vsize
			if end > uint64(len(p)) {
				return fmt.Errorf("page %d: the key or value of element %d lies outside the page", id, i)
			}
			if le.Uint32(e[0:])&bucketElement == 0 {
				continue
			}
			v := p[start:end]
			if len(v) < bucketHeadSize {
				return fmt.Errorf("page %d: element %d is a bucket too short for its header", id, i)
			}
			var err error
			if root := le.Uint64(v); root == 0 {
				err = c.node(v[bucketHeadSize:], id)
			} else {
				err = c.tree(root)
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("page %d is neither a branch nor a leaf page (flags %#x)", id, flags)
		}
	}
	return nil
}
