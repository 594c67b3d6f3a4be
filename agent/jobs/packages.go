package jobs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/parse/rpmdb"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
	"github.com/hostdrift/hostdrift/internal/sys/rpmstore"
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
// file: dpkg's file lists, or the file lists in rpm's package headers.
type packageDB interface {
	// name is the database as Cron.PackageDB records it ("dpkg").
	name() string
	// reads are the paths reading it reads, for the collector's Reads.
	reads() []agent.Path
	// owners maps each of files to the package that installed it ("" when
	// none did); present is false when the host has no such database.
	// problem says what of it could not be read (owners still holds what
	// was found).
	owners(ctx context.Context, fsys rootFS, files []string) (owners map[string]string, present bool, problem string)
}

// packageDBs are the package databases job files' owners are read from,
// in order: the first the host has is the one recorded. dpkg's comes
// first: a Debian host with the rpm tool installed has an rpm database
// that is not the host's, and a host of the RHEL family has no dpkg.
var packageDBs = []packageDB{dpkgDB{}, rpmDB{}}

// packageOwners sets each job's Package: the package whose database names
// the job's file (its table, or its run-parts script). User crontabs are
// nobody's. A host without any of dbs leaves PackageDB empty: ownership is
// unknown there.
func packageOwners(ctx context.Context, fsys rootFS, cr *snapshot.Cron, dbs []packageDB) {
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
		owners, present, problem := db.owners(ctx, fsys, files)
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
func (dpkgDB) owners(_ context.Context, fsys rootFS, files []string) (map[string]string, bool, string) {
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

// rpmDB is rpm's database: each installed package's header lists the
// files it installed.
type rpmDB struct{}

func (rpmDB) name() string { return "rpm" }

func (rpmDB) reads() []agent.Path {
	var out []agent.Path
	for _, p := range rpmstore.Paths() {
		out = append(out, agent.File(p))
	}
	return out
}

// owners reads every package's header once; the first package (in rpm's
// order) that lists a file is its owner.
func (rpmDB) owners(ctx context.Context, fsys rootFS, files []string) (map[string]string, bool, string) {
	db, err := rpmstore.Find(fsys.FS)
	if err != nil {
		return nil, true, err.Error()
	}
	if db == nil {
		return nil, false, ""
	}
	want := map[string]string{}
	for _, f := range files {
		want[f] = ""
	}
	blobs, err := db.Headers(ctx, fsys.FS)
	if err != nil {
		return want, true, fmt.Sprintf("read rpm's %s database %s: %v", db.Format, db.Path, err)
	}
	var problems []string
	left := len(want)
	for i, b := range blobs {
		if left == 0 {
			break
		}
		h, err := rpmdb.ParseHeader(b)
		if err != nil {
			problems = append(problems, fmt.Sprintf("package %d of %s: %v", i+1, db.Path, err))
			continue
		}
		names, err := rpmdb.Files(b)
		if err != nil {
			problems = append(problems, fmt.Sprintf("the files of %s in %s: %v", h.Name, db.Path, err))
			continue
		}
		for _, n := range names {
			if owner, ok := want[n]; ok && owner == "" {
				want[n] = h.Name
				left--
			}
		}
	}
	return want, true, strings.Join(problems, "; ")
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
