package jobs

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/regfile"
)

// rootFS reads files below a root, following symbolic links the way the
// host would see them: an absolute link target starts again at the root,
// never at the machine's own /. Resolved folders are remembered, so a
// thousand programs in the same few folders cost one lookup each.
type rootFS struct {
	root string
	dirs map[string]string // host folder → where its links lead
}

func newRootFS(root string) rootFS { return rootFS{root: root, dirs: map[string]string{}} }

func (r rootFS) live() bool { return r.root == "" || r.root == "/" }

// real returns where p (a path on the host) is on this machine.
func (r rootFS) real(p string) string {
	if r.live() {
		return p
	}
	return filepath.Join(r.root, p)
}

// resolve follows the links of p below the root and returns the host path
// it ends at.
func (r rootFS) resolve(p string) (string, error) {
	if r.live() {
		return p, nil
	}
	q, _, err := r.resolveDepth(p, 0)
	return q, err
}

// resolveDepth also returns what the final path is (nil for "/"), so that
// stat costs no second system call.
func (r rootFS) resolveDepth(p string, depth int) (string, fs.FileInfo, error) {
	if depth > 40 {
		return "", nil, fmt.Errorf("%s: too many levels of symbolic links", p)
	}
	p = path.Clean("/" + p)
	if p == "/" {
		return p, nil, nil
	}
	dir, base := path.Split(p)
	dir = path.Clean(dir)
	rdir, ok := r.dirs[dir]
	if !ok {
		var err error
		if rdir, _, err = r.resolveDepth(dir, depth); err != nil {
			return "", nil, err
		}
		if r.dirs != nil {
			r.dirs[dir] = rdir
		}
	}
	full := path.Join(rdir, base)
	fi, err := os.Lstat(r.real(full))
	if err != nil {
		return "", nil, err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return full, fi, nil
	}
	target, err := os.Readlink(r.real(full))
	if err != nil {
		return "", nil, err
	}
	if !path.IsAbs(target) {
		target = path.Join(rdir, target)
	}
	return r.resolveDepth(target, depth+1)
}

// stat is os.Stat of a host path below the root.
func (r rootFS) stat(p string) (fs.FileInfo, error) {
	if r.live() {
		return os.Stat(p)
	}
	q, fi, err := r.resolveDepth(p, 0)
	if err != nil || fi != nil {
		return fi, err
	}
	return os.Stat(r.real(q))
}

// maxConfigBytes bounds a crontab, unit file or /etc/passwd: a file far
// bigger is a mistake or an attack, and is refused rather than read whole.
const maxConfigBytes = 16 << 20

// readFile reads a regular file below the root, to maxConfigBytes.
func (r rootFS) readFile(p string) ([]byte, error) {
	f, err := r.open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := regfile.ReadAll(f, maxConfigBytes)
	var tl *regfile.TooLargeError
	if errors.As(err, &tl) {
		tl.Path = p
	}
	return b, err
}

// open opens a regular file below the root for reading (logs are read as
// a stream). A FIFO, device, socket or folder is refused, unopened, with a
// *regfile.NotRegularError naming the host path: cron and systemd skip
// such files too, and opening one could block the collector.
func (r rootFS) open(p string) (*os.File, error) {
	var f *os.File
	var err error
	if r.live() {
		f, err = regfile.Open(p)
	} else {
		var q string
		if q, err = r.resolve(p); err != nil {
			return nil, err
		}
		f, err = regfile.OpenNoFollow(r.real(q))
	}
	var nr *regfile.NotRegularError
	if errors.As(err, &nr) {
		nr.Path = p
	}
	return f, err
}

func (r rootFS) readDir(p string) ([]fs.DirEntry, error) {
	q, err := r.resolve(p)
	if err != nil {
		return nil, err
	}
	return os.ReadDir(r.real(q))
}

// executable reports whether fi is a regular file someone may execute.
func executable(fi fs.FileInfo) bool {
	return fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// program checks a program or script at a host path.
func (r rootFS) check(p *snapshot.Program, hostPath string) {
	fi, err := r.stat(hostPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.Problem = hostPath + " does not exist"
		return
	case err != nil:
		p.Problem = err.Error()
		return
	}
	p.Path, p.Exists = hostPath, true
	switch {
	case fi.IsDir():
		p.Problem = hostPath + " is a folder"
	case p.Script && fi.Mode().IsRegular():
		p.Executable = true
	case p.Script:
		p.Problem = hostPath + " is not a regular file"
	case executable(fi):
		p.Executable = true
	default:
		p.Problem = fmt.Sprintf("%s is not executable (mode %04o)", hostPath, fi.Mode().Perm())
	}
}

// lookPath finds a program name in PATH as execvp does: the first
// executable file of that name.
func (r rootFS) lookPath(p *snapshot.Program, name, pathEnv string) {
	var found string
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			continue
		}
		cand := path.Join(dir, name)
		fi, err := r.stat(cand)
		if err != nil {
			continue
		}
		if executable(fi) {
			r.check(p, cand)
			return
		}
		if found == "" && fi.Mode().IsRegular() {
			found = cand
		}
	}
	if found != "" {
		r.check(p, found)
		return
	}
	p.Problem = fmt.Sprintf("%s is not found in PATH %s", name, pathEnv)
}

// passwdPath names the users and their home folders.
const passwdPath = "/etc/passwd"

// passwd reads the users' home folders from /etc/passwd below the root.
func (r rootFS) passwd() map[string]string {
	homes := map[string]string{}
	b, err := r.readFile(passwdPath)
	if err != nil {
		return homes
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) >= 6 {
			homes[f[0]] = f[5]
		}
	}
	return homes
}
