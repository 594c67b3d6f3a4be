package jobs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

// dpkgInfo holds dpkg's file lists: PACKAGE.list (or PACKAGE:ARCH.list)
// names, one a line, every file and folder the package installed,
// configuration files included.
const dpkgInfo = "/var/lib/dpkg/info"

// Bounds on reading dpkg's lists: a host has a few thousand packages and a
// few tens of MB of lists at most.
const (
	maxListFiles = 20000
	maxListBytes = 256 << 20
	maxListLine  = 4096
)

// packageOwners sets each job's Package: the dpkg package whose list names
// the job's file (its table, or its run-parts script). The lists are read
// once, streamed, and no further than needed to place every job file. A
// host without dpkg leaves PackageDB empty: ownership is unknown there.
func packageOwners(fsys rootFS, cr *snapshot.Cron) {
	if len(cr.Jobs) == 0 {
		return
	}
	want := map[string]string{} // job file → package
	for _, j := range cr.Jobs {
		if j.Kind != snapshot.CronUser {
			want[j.File] = ""
		}
	}
	entries, err := fsys.readDir(dpkgInfo)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	cr.PackageDB = "dpkg"
	if err != nil {
		cr.PackageDBError = err.Error()
		return
	}
	var lists []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".list") {
			lists = append(lists, e.Name())
		}
	}
	sort.Strings(lists)
	if len(lists) > maxListFiles {
		cr.PackageDBError = fmt.Sprintf("%s holds %d file lists, more than the %d read", dpkgInfo, len(lists), maxListFiles)
		lists = lists[:maxListFiles]
	}
	var total int64
	left := len(want)
	for _, name := range lists {
		if left == 0 {
			break
		}
		pkg, _, _ := strings.Cut(strings.TrimSuffix(name, ".list"), ":")
		f, err := fsys.open(path.Join(dpkgInfo, name))
		if err != nil {
			if hostfs.IsNotRegular(err) {
				cr.PackageDBError = err.Error()
			}
			continue
		}
		budget := maxListBytes - total
		r := &countingReader{r: io.LimitReader(f, budget)}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 512), maxListLine)
		for sc.Scan() {
			p := sc.Text()
			if owner, ok := want[p]; ok && owner == "" {
				want[p] = pkg
				left--
			}
		}
		f.Close()
		total += r.n
		if total >= maxListBytes {
			cr.PackageDBError = fmt.Sprintf("dpkg's file lists exceed %d MB: not all were read", maxListBytes>>20)
			break
		}
	}
	for i := range cr.Jobs {
		cr.Jobs[i].Package = want[cr.Jobs[i].File]
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
