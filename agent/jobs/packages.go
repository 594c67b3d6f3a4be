package jobs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/hostdrift/hostdrift/agent"
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

// packageDB is a package database that knows which package installed a
// file: dpkg's file lists here; rpm's database satisfies it as well once
// a reader of it is wired in (add it to packageDBs).
type packageDB interface {
	// name is the database as Cron.PackageDB records it ("dpkg").
	name() string
	// reads are the paths reading it reads, for the collector's Reads.
	reads() []agent.Path
	// owners maps each of files to the package that installed it ("" when
	// none did); present is false when the host has no such database.
	// problem says what of it could not be read (owners still holds what
	// was found).
	owners(fsys rootFS, files []string) (owners map[string]string, present bool, problem string)
}

// packageDBs are the package databases job files' owners are read from,
// in order: the first the host has is the one recorded.
var packageDBs = []packageDB{dpkgDB{}}

// packageOwners sets each job's Package: the package whose database names
// the job's file (its table, or its run-parts script). User crontabs are
// nobody's. A host without any of dbs leaves PackageDB empty: ownership is
// unknown there.
func packageOwners(fsys rootFS, cr *snapshot.Cron, dbs []packageDB) {
	if len(cr.Jobs) == 0 {
		return
	}
	var files []string
	for _, j := range cr.Jobs {
		if j.Kind != snapshot.CronUser && !slices.Contains(files, j.File) {
			files = append(files, j.File)
		}
	}
	for _, db := range dbs {
		owners, present, problem := db.owners(fsys, files)
		if !present {
			continue
		}
		cr.PackageDB, cr.PackageDBError = db.name(), problem
		for i := range cr.Jobs {
			if cr.Jobs[i].Kind != snapshot.CronUser {
				cr.Jobs[i].Package = owners[cr.Jobs[i].File]
			}
		}
		return
	}
}

// dpkgDB is dpkg's database: the file lists of /var/lib/dpkg/info.
type dpkgDB struct{}

func (dpkgDB) name() string { return "dpkg" }

func (dpkgDB) reads() []agent.Path { return []agent.Path{agent.Folder(dpkgInfo)} }

// owners reads the lists once, streamed, and no further than needed to
// place every file.
func (dpkgDB) owners(fsys rootFS, files []string) (map[string]string, bool, string) {
	want := map[string]string{} // file → package
	for _, f := range files {
		want[f] = ""
	}
	entries, err := fsys.readDir(dpkgInfo)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, ""
	}
	if err != nil {
		return want, true, err.Error()
	}
	problem := ""
	var lists []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".list") {
			lists = append(lists, e.Name())
		}
	}
	sort.Strings(lists)
	if len(lists) > maxListFiles {
		problem = fmt.Sprintf("%s holds %d file lists, more than the %d read", dpkgInfo, len(lists), maxListFiles)
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
				problem = err.Error()
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
			problem = fmt.Sprintf("dpkg's file lists exceed %d MB: not all were read", maxListBytes>>20)
			break
		}
	}
	return want, true, problem
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
