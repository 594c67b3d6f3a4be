package rpmdb

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Berkeley DB's hash format, as rpm up to 4.15 wrote Packages: page 0 is
// the metadata (magic, page size, last page), hash pages hold key/data
// items (the key a header number, the data a header), and a header too
// large for its page is an "off-page" item whose bytes run through a chain
// of overflow pages. Numbers are in the byte order of the machine that
// wrote the file, told by the magic (db_page.h, hash.h of Berkeley DB).
const (
	bdbHashMagic   = 0x061561
	bdbPageHeader  = 26 // lsn, pgno, prev, next, entries, hf_offset, level, type
	bdbHashUnsorte = 2  // P_HASH_UNSORTED
	bdbOverflow    = 7  // P_OVERFLOW
	bdbHash        = 13 // P_HASH
	bdbKeyData     = 1  // H_KEYDATA: the bytes on the page
	bdbOffPage     = 3  // H_OFFPAGE: page number and length of an overflow chain
	// bdbMetaChecksum is DBMETA_CHKSUM in the metadata's flags: pages then
	// carry a checksum this reader does not skip.
	bdbMetaChecksum = 0x01
)

// ReadBDB returns the header blob of every package in a Berkeley DB hash
// Packages file of size bytes, in page order.
func ReadBDB(r io.ReaderAt, size int64) ([][]byte, error) {
	var meta [72]byte
	if _, err := r.ReadAt(meta[:], 0); err != nil {
		return nil, fmt.Errorf("Berkeley DB metadata: %w", err)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch {
	case binary.LittleEndian.Uint32(meta[12:]) == bdbHashMagic:
	case binary.BigEndian.Uint32(meta[12:]) == bdbHashMagic:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("not a Berkeley DB hash database (magic %#x)", binary.LittleEndian.Uint32(meta[12:]))
	}
	if meta[25]&bdbMetaChecksum != 0 || meta[24] != 0 {
		return nil, fmt.Errorf("Berkeley DB with page checksums or encryption: not read")
	}
	psize := int64(bo.Uint32(meta[20:]))
	if psize < 512 || psize > 65536 || psize&(psize-1) != 0 {
		return nil, fmt.Errorf("Berkeley DB page size %d", psize)
	}
	last := int64(bo.Uint32(meta[32:]))
	if (last+1)*psize > size {
		return nil, fmt.Errorf("Berkeley DB's last page %d lies past the file's %d bytes", last, size)
	}
	page := make([]byte, psize)
	readPage := func(n int64, p []byte) error {
		if n < 1 || n > last {
			return fmt.Errorf("page %d outside 1..%d", n, last)
		}
		_, err := r.ReadAt(p, n*psize)
		return err
	}
	var blobs [][]byte
	for n := int64(1); n <= last; n++ {
		if err := readPage(n, page); err != nil {
			return nil, fmt.Errorf("Berkeley DB page %d: %w", n, err)
		}
		if t := page[25]; t != bdbHash && t != bdbHashUnsorte {
			continue
		}
		entries := int(bo.Uint16(page[20:]))
		if bdbPageHeader+2*entries > int(psize) {
			return nil, fmt.Errorf("Berkeley DB page %d: %d entries do not fit", n, entries)
		}
		// Items alternate key, data; each runs from its offset to the
		// previous item's (the first to the end of the page).
		for i := 1; i < entries; i += 2 {
			at := int(bo.Uint16(page[bdbPageHeader+2*i:]))
			end := int(bo.Uint16(page[bdbPageHeader+2*(i-1):]))
			if at >= end || end > int(psize) {
				return nil, fmt.Errorf("Berkeley DB page %d: item %d at %d..%d", n, i, at, end)
			}
			item := page[at:end]
			key := page[end:]
			if i > 1 {
				key = page[end:int(bo.Uint16(page[bdbPageHeader+2*(i-2):]))]
			}
			switch item[0] {
			case bdbKeyData:
				// On-page data: a small header, or key 0's counter of the
				// next header number, which is no package.
				if key[0] == bdbKeyData && len(key) == 5 && bo.Uint32(key[1:]) == 0 {
					continue
				}
				blobs = append(blobs, append([]byte(nil), item[1:]...))
			case bdbOffPage:
				if len(item) < 12 {
					return nil, fmt.Errorf("Berkeley DB page %d: short off-page item", n)
				}
				b, err := overflow(readPage, psize, int64(bo.Uint32(item[4:])), int64(bo.Uint32(item[8:])), bo)
				if err != nil {
					return nil, fmt.Errorf("Berkeley DB page %d item %d: %w", n, i, err)
				}
				blobs = append(blobs, b)
			default:
				return nil, fmt.Errorf("Berkeley DB page %d: item type %d (duplicates) is not rpm's", n, item[0])
			}
		}
	}
	return blobs, nil
}

// overflow reads length bytes from the chain of overflow pages starting
// at page first.
func overflow(readPage func(int64, []byte) error, psize, first, length int64, bo binary.ByteOrder) ([]byte, error) {
	if length > maxHeader {
		return nil, fmt.Errorf("item of %d bytes", length)
	}
	out := make([]byte, 0, length)
	p := make([]byte, psize)
	for n, hops := first, int64(0); int64(len(out)) < length; hops++ {
		if n == 0 || hops > length/16+1 {
			return nil, fmt.Errorf("overflow chain ends after %d of %d bytes", len(out), length)
		}
		if err := readPage(n, p); err != nil {
			return nil, fmt.Errorf("overflow page %d: %w", n, err)
		}
		if p[25] != bdbOverflow {
			return nil, fmt.Errorf("page %d is type %d, not an overflow page", n, p[25])
		}
		used := int64(bo.Uint16(p[22:]))
		if used > psize-bdbPageHeader {
			return nil, fmt.Errorf("overflow page %d holds %d bytes", n, used)
		}
		out = append(out, p[bdbPageHeader:bdbPageHeader+used]...)
		n = int64(bo.Uint32(p[16:]))
	}
	if int64(len(out)) != length {
		return nil, fmt.Errorf("overflow chain holds %d bytes, not %d", len(out), length)
	}
	return out, nil
}
