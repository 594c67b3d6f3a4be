package rpmdb

import (
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"io"
)

// NDB is rpm's own format (Packages.db, SUSE): a header page with the
// count of slot pages, slot pages of 16-byte slots (magic, package index,
// block offset, block count), and each package's header in a blob at its
// block (16-byte blocks): blob head (magic, package index, generation,
// length), the header, padding, and a tail ending the last block (Adler-32
// of all before it, length, magic). All numbers are little-endian (rpm's lib/backend/ndb/rpmpkg.c).
const (
	ndbMagic     = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobMagic = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbTailMagic = 'B' | 'l'<<8 | 'b'<<16 | 'E'<<24
	ndbPage      = 4096
	ndbBlock     = 16
	// ndbMaxSlotPages bounds the slot table (2048 pages: half a million
	// packages).
	ndbMaxSlotPages = 2048
)

// ReadNDB returns the header blob of every package in an NDB Packages.db
// of size bytes, in slot order.
func ReadNDB(r io.ReaderAt, size int64) ([][]byte, error) {
	var head [16]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return nil, fmt.Errorf("NDB header: %w", err)
	}
	le := binary.LittleEndian
	if le.Uint32(head[:]) != ndbMagic {
		return nil, fmt.Errorf("not an NDB database (magic %#x)", le.Uint32(head[:]))
	}
	if v := le.Uint32(head[4:]); v != 0 {
		return nil, fmt.Errorf("NDB version %d: only version 0 is known", v)
	}
	npages := le.Uint32(head[12:])
	if npages == 0 || npages > ndbMaxSlotPages || int64(npages)*ndbPage > size {
		return nil, fmt.Errorf("NDB header names %d slot pages in a file of %d bytes", npages, size)
	}
	slots := make([]byte, int(npages)*ndbPage)
	if _, err := r.ReadAt(slots, 0); err != nil {
		return nil, fmt.Errorf("NDB slots: %w", err)
	}
	var blobs [][]byte
	// The first two slots' room holds the header.
	for off := 2 * 16; off < len(slots); off += 16 {
		s := slots[off:]
		if le.Uint32(s) != ndbSlotMagic {
			return nil, fmt.Errorf("NDB slot %d: bad magic %#x", off/16, le.Uint32(s))
		}
		idx, blk, cnt := le.Uint32(s[4:]), int64(le.Uint32(s[8:])), int64(le.Uint32(s[12:]))
		if idx == 0 {
			continue // a free slot
		}
		if (blk+cnt)*ndbBlock > size || cnt*ndbBlock < 16+12 {
			return nil, fmt.Errorf("NDB package %d: blocks %d+%d outside the file of %d bytes", idx, blk, cnt, size)
		}
		b := make([]byte, cnt*ndbBlock)
		if _, err := r.ReadAt(b, blk*ndbBlock); err != nil {
			return nil, fmt.Errorf("NDB package %d: %w", idx, err)
		}
		if le.Uint32(b) != ndbBlobMagic || le.Uint32(b[4:]) != idx {
			return nil, fmt.Errorf("NDB package %d: no blob at block %d", idx, blk)
		}
		n := int64(le.Uint32(b[12:]))
		if 16+n+12 > int64(len(b)) {
			return nil, fmt.Errorf("NDB package %d: blob of %d bytes overruns its %d blocks", idx, n, cnt)
		}
		// The tail ends the package's last block; its checksum covers all
		// before it, padding included.
		tail := b[len(b)-12:]
		if le.Uint32(tail[8:]) != ndbTailMagic || int64(le.Uint32(tail[4:])) != n {
			return nil, fmt.Errorf("NDB package %d: blob tail missing (written while read?)", idx)
		}
		if sum := adler32.Checksum(b[:len(b)-12]); sum != le.Uint32(tail) {
			return nil, fmt.Errorf("NDB package %d: checksum %#x, the tail says %#x (written while read?)", idx, sum, le.Uint32(tail))
		}
		blobs = append(blobs, b[16:16+n])
	}
	return blobs, nil
}
