package rpmdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/rpmroot"
)

var packages = []rpmroot.Package{
	{Name: "openssl", Epoch: "1", Version: "3.0.7", Release: "27.el9"},
	{Name: "bash", Version: "5.1.8", Release: "9.el9"},
	{Name: "tool", Version: "2.0~rc1", Release: "1"},
	{Name: "snap", Version: "1.0^git20240101", Release: "3.fc40"},
	{Name: "native", Version: "1.2", Release: "1", Arch: "x86_64"},
}

// queryLines formats headers as rpmroot.Query prints rpm's answer.
func queryLines(t *testing.T, blobs [][]byte) []string {
	t.Helper()
	var out []string
	for _, b := range blobs {
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		e := 0
		if h.Epoch != nil {
			e = *h.Epoch
		}
		out = append(out, fmt.Sprintf("%s %d:%s-%s %s", h.Name, e, h.Version, h.Release, h.Arch))
	}
	sort.Strings(out)
	return out
}

func rpmRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	rpmroot.Build(t, packages...).Install(t, root, "", "")
	return root
}

// TestBerkeleyDB reads Berkeley DB Packages files written by Berkeley DB
// itself and read back by rpm (rpmroot.BerkeleyDB), with pages so small
// every header runs through a chain of overflow pages, and so large every
// header sits on its page.
func TestBerkeleyDB(t *testing.T) {
	root := rpmRoot(t)
	want := rpmroot.Query(t, root, "", "")
	for _, size := range []int{512, 4096, 65536} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			r := t.TempDir()
			if err := os.CopyFS(r, os.DirFS(root)); err != nil {
				t.Fatal(err)
			}
			rpmroot.BerkeleyDB(t, r, "", size)
			f, err := os.Open(filepath.Join(r, rpmroot.DBPath, "Packages"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, _ := f.Stat()
			blobs, err := ReadBDB(f, fi.Size())
			if err != nil {
				t.Fatal(err)
			}
			if got := queryLines(t, blobs); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("read %q, rpm reads %q", got, want)
			}
		})
	}
}

// writeNDB lays out headers as rpm's NDB backend does (see ndb.go): one
// slot page, a free slot between packages, blobs after the slots.
func writeNDB(blobs [][]byte) []byte {
	le := binary.LittleEndian
	out := make([]byte, ndbPage)
	le.PutUint32(out, ndbMagic)
	le.PutUint32(out[8:], 7) // generation
	le.PutUint32(out[12:], 1)
	for off := 32; off < ndbPage; off += 16 {
		le.PutUint32(out[off:], ndbSlotMagic)
	}
	for i, b := range blobs {
		n := (16 + len(b) + 12 + ndbBlock - 1) / ndbBlock
		blk := make([]byte, n*ndbBlock)
		le.PutUint32(blk, ndbBlobMagic)
		le.PutUint32(blk[4:], uint32(i+1))
		le.PutUint32(blk[12:], uint32(len(b)))
		copy(blk[16:], b)
		tail := blk[len(blk)-12:]
		le.PutUint32(tail, adler32.Checksum(blk[:len(blk)-12]))
		le.PutUint32(tail[4:], uint32(len(b)))
		le.PutUint32(tail[8:], ndbTailMagic)
		slot := out[32+32*i:] // every other slot, the ones between free
		le.PutUint32(slot[4:], uint32(i+1))
		le.PutUint32(slot[8:], uint32(len(out)/ndbBlock))
		le.PutUint32(slot[12:], uint32(n))
		out = append(out, blk...)
	}
	return out
}

// TestNDB reads the headers rpm wrote laid out as NDB (Debian's rpm has no
// NDB backend to write one), and refuses a torn or foreign file. The
// reader was also checked on SUSE's own NDB database of an SLE 15 image
// (35 packages).
func TestNDB(t *testing.T) {
	root := rpmRoot(t)
	_, blobs := rpmroot.Blobs(t, root, "")
	file := writeNDB(blobs)
	got, err := ReadNDB(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if q, want := queryLines(t, got), rpmroot.Query(t, root, "", ""); strings.Join(q, "\n") != strings.Join(want, "\n") {
		t.Errorf("read %q, rpm reads %q", q, want)
	}
	for _, c := range []struct {
		name string
		at   int
		want string
	}{
		{"magic", 0, "not an NDB database"},
		{"slot", 48, "bad magic"},
		{"blob", ndbPage + 40, "checksum"},
	} {
		bad := bytes.Clone(file)
		bad[c.at] ^= 0xff
		if _, err := ReadNDB(bytes.NewReader(bad), int64(len(bad))); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s changed: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}

func TestParseHeaderRefuses(t *testing.T) {
	root := rpmRoot(t)
	_, blobs := rpmroot.Blobs(t, root, "")
	b := blobs[0]
	if _, err := ParseHeader(b); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		blob []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"cut", b[:len(b)/2], "cut short"},
		{"no entries", []byte{0, 0, 0, 0, 0, 0, 0, 0}, "not a header"},
		{"huge", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, "not a header"},
	} {
		if _, err := ParseHeader(c.blob); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}
