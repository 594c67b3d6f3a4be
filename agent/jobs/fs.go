package jobs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

// rootFS is the host's file tree (Env.FS) as the jobs read it: errors
// name the host path, and files are bounded at maxConfigBytes.
type rootFS struct{ *hostfs.FS }

func newRootFS(h *hostfs.FS) rootFS { return rootFS{h} }

func (r rootFS) live() bool { return r.Live() }

// stat is os.Stat of a host path below the root.
func (r rootFS) stat(p string) (fs.FileInfo, error) { return r.Stat(p) }

// maxConfigBytes bounds a crontab, unit file or /etc/passwd: a file far
// bigger is a mistake or an attack, and is refused rather than read whole.
const maxConfigBytes = 16 << 20

// readFile reads a regular file below the root, to maxConfigBytes.
func (r rootFS) readFile(p string) ([]byte, error) {
	b, err := r.ReadFile(p, maxConfigBytes)
	return b, hostPath(err, p)
}

// open opens a regular file below the root for reading (logs are read as
// a stream). A FIFO, device, socket or folder is refused, unopened, with a
// *hostfs.NotRegularError naming the host path: cron and systemd skip
// such files too, and opening one could block the collector.
func (r rootFS) open(p string) (*os.File, error) {
	f, err := r.Open(p)
	return f, hostPath(err, p)
}

// hostPath makes a refusal name the host path p, as cron and systemd do.
func hostPath(err error, p string) error {
	var nr *hostfs.NotRegularError
	var tl *hostfs.TooLargeError
	switch {
	case errors.As(err, &nr):
		nr.Path = p
	case errors.As(err, &tl):
		tl.Path = p
	}
	return err
}

func (r rootFS) readDir(p string) ([]fs.DirEntry, error) { return r.ReadDir(p) }

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
