// Package rpmdb reads rpm's package database without rpm: the header of
// each installed package from a Berkeley DB (Packages) or NDB
// (Packages.db) file, and the name, epoch, version, release and
// architecture in a header. (The SQLite format, rpmdb.sqlite, holds the
// same headers in a table, read with an SQLite library.)
package rpmdb

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Header is what hostdrift keeps of an installed package's header.
type Header struct {
	Name    string
	Epoch   *int // nil: no epoch tag
	Version string
	Release string
	// Arch is the architecture; "" for packages without one (gpg-pubkey).
	Arch string
}

// EVR is the package's version as rpm writes it: [epoch:]version-release.
func (h Header) EVR() string {
	s := h.Version + "-" + h.Release
	if h.Epoch != nil {
		s = strconv.Itoa(*h.Epoch) + ":" + s
	}
	return s
}

// The header tags read, and their types (rpm's lib/rpmtag.h).
const (
	tagName    = 1000
	tagVersion = 1001
	tagRelease = 1002
	tagEpoch   = 1003
	tagArch    = 1022

	tagOldFilenames = 1027
	tagDirindexes   = 1116
	tagBasenames    = 1117
	tagDirnames     = 1118

	typeInt32       = 4
	typeString      = 6
	typeStringArray = 8
)

// maxHeader is rpm's own bound on a header (headerMaxbytes).
const maxHeader = 256 << 20

// entry is one index entry of a header.
type entry struct{ tag, typ, off, count uint32 }

// split checks a header blob's bounds and returns its index entries and
// its data: the count of index entries and the size of the data
// (big-endian 32-bit each), the entries (tag, type, offset, count), then
// the data.
func split(b []byte) ([]entry, []byte, error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("header of %d bytes: too short", len(b))
	}
	il, dl := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if il < 1 || il > maxHeader/16 || dl > maxHeader {
		return nil, nil, fmt.Errorf("header with %d entries and %d bytes of data: not a header", il, dl)
	}
	start := 8 + 16*int(il)
	if start+int(dl) > len(b) {
		return nil, nil, fmt.Errorf("header with %d entries and %d bytes of data is cut short at %d bytes", il, dl, len(b))
	}
	ents := make([]entry, il)
	for i := range ents {
		e := b[8+16*i:]
		ents[i] = entry{binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:]), binary.BigEndian.Uint32(e[8:]), binary.BigEndian.Uint32(e[12:])}
	}
	return ents, b[start : start+int(dl)], nil
}

// ParseHeader reads a header blob as the database stores it. A later
// entry of the same tag (rpm appends those after install) wins.
func ParseHeader(b []byte) (Header, error) {
	ents, data, err := split(b)
	if err != nil {
		return Header{}, err
	}
	var h Header
	for _, e := range ents {
		tag, typ, off, count := e.tag, e.typ, e.off, e.count
		if off >= uint32(len(data)) {
			if wanted(tag) {
				return Header{}, fmt.Errorf("header tag %d: offset %d past the data (%d bytes)", tag, off, len(data))
			}
			continue
		}
		switch tag {
		case tagName, tagVersion, tagRelease, tagArch:
			if typ != typeString {
				return Header{}, fmt.Errorf("header tag %d has type %d, not a string", tag, typ)
			}
			s, err := cString(data[off:])
			if err != nil {
				return Header{}, fmt.Errorf("header tag %d: %v", tag, err)
			}
			switch tag {
			case tagName:
				h.Name = s
			case tagVersion:
				h.Version = s
			case tagRelease:
				h.Release = s
			case tagArch:
				h.Arch = s
			}
		case tagEpoch:
			if typ != typeInt32 || count < 1 || int(off)+4 > len(data) {
				return Header{}, fmt.Errorf("header's epoch (type %d, %d values at %d) is not a 32-bit number", typ, count, off)
			}
			n := int(int32(binary.BigEndian.Uint32(data[off:])))
			h.Epoch = &n
		}
	}
	if h.Name == "" || h.Version == "" || h.Release == "" {
		return Header{}, fmt.Errorf("header without a name, version or release (%q %q %q)", h.Name, h.Version, h.Release)
	}
	return h, nil
}

// Files lists the paths of the files and folders a package's header says
// it installed: each of its base names joined to the folder its index
// names (rpm 4 on), or its old full file names (packages built by rpm 3).
// A package without files (a meta package, gpg-pubkey) has none.
func Files(b []byte) ([]string, error) {
	ents, data, err := split(b)
	if err != nil {
		return nil, err
	}
	var base, dirs, old []string
	var index []uint32
	for _, e := range ents {
		switch e.tag {
		case tagBasenames, tagDirnames, tagOldFilenames:
			if e.typ != typeStringArray {
				return nil, fmt.Errorf("header tag %d has type %d, not a string array", e.tag, e.typ)
			}
			ss, err := stringArray(data, e.off, e.count)
			if err != nil {
				return nil, fmt.Errorf("header tag %d: %v", e.tag, err)
			}
			switch e.tag {
			case tagBasenames:
				base = ss
			case tagDirnames:
				dirs = ss
			default:
				old = ss
			}
		case tagDirindexes:
			if e.typ != typeInt32 || uint64(e.off)+4*uint64(e.count) > uint64(len(data)) {
				return nil, fmt.Errorf("header's dirindexes (type %d, %d values at %d) are not 32-bit numbers within the data", e.typ, e.count, e.off)
			}
			index = make([]uint32, e.count)
			for i := range index {
				index[i] = binary.BigEndian.Uint32(data[int(e.off)+4*i:])
			}
		}
	}
	if base == nil {
		return old, nil
	}
	if len(index) != len(base) {
		return nil, fmt.Errorf("header has %d base names but %d folder indexes", len(base), len(index))
	}
	out := make([]string, len(base))
	for i, n := range base {
		if int(index[i]) >= len(dirs) {
			return nil, fmt.Errorf("file %q names folder %d of %d", n, index[i], len(dirs))
		}
		out[i] = dirs[index[i]] + n
	}
	return out, nil
}

// stringArray reads count NUL-terminated strings from data at off.
func stringArray(data []byte, off, count uint32) ([]string, error) {
	if count > uint32(len(data)) {
		return nil, fmt.Errorf("%d strings in %d bytes", count, len(data))
	}
	out := make([]string, 0, count)
	p := int(off)
	for range count {
		if p >= len(data) {
			return nil, fmt.Errorf("string %d of %d past the data", len(out)+1, count)
		}
		s, err := cString(data[p:])
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		p += len(s) + 1
	}
	return out, nil
}

func wanted(tag uint32) bool {
	switch tag {
	case tagName, tagVersion, tagRelease, tagEpoch, tagArch:
		return true
	}
	return false
}

// cString is the NUL-terminated string at the start of b.
func cString(b []byte) (string, error) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), nil
		}
	}
	return "", fmt.Errorf("string not terminated")
}
