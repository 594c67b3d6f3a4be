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

	typeInt32  = 4
	typeString = 6
)

// maxHeader is rpm's own bound on a header (headerMaxbytes).
const maxHeader = 256 << 20

// ParseHeader reads a header blob as the database stores it: the count of
// index entries and the size of the data (big-endian 32-bit each), the
// entries (tag, type, offset, count), then the data. A later entry of the
// same tag (rpm appends those after install) wins.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < 8 {
		return Header{}, fmt.Errorf("header of %d bytes: too short", len(b))
	}
	il, dl := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if il < 1 || il > maxHeader/16 || dl > maxHeader {
		return Header{}, fmt.Errorf("header with %d entries and %d bytes of data: not a header", il, dl)
	}
	start := 8 + 16*int(il)
	if start+int(dl) > len(b) {
		return Header{}, fmt.Errorf("header with %d entries and %d bytes of data is cut short at %d bytes", il, dl, len(b))
	}
	data := b[start : start+int(dl)]
	var h Header
	for i := 0; i < int(il); i++ {
		e := b[8+16*i:]
		tag, typ := binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:])
		off, count := binary.BigEndian.Uint32(e[8:]), binary.BigEndian.Uint32(e[12:])
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
