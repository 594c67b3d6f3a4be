package files

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/parse/passwd"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

// MaxContentBytes bounds the content read for a digest or a match: a
// configuration file far bigger is not one, and is refused rather than read.
const MaxContentBytes = 16 << 20

// pseudoFS are file systems whose "files" are the kernel's state, not
// content: reading one can block, change the system or never end.
var pseudoFS = map[int64]string{
	unix.PROC_SUPER_MAGIC:    "procfs",
	unix.SYSFS_MAGIC:         "sysfs",
	unix.DEBUGFS_MAGIC:       "debugfs",
	unix.TRACEFS_MAGIC:       "tracefs",
	unix.SECURITYFS_MAGIC:    "securityfs",
	unix.CGROUP2_SUPER_MAGIC: "cgroup2",
}

// openContent opens a regular file for reading without blocking on a
// FIFO, and refuses anything else, including files of /proc and /sys.
func openContent(root *hostfs.FS, name string) (*os.File, error) {
	f, err := root.Open(name)
	if hostfs.IsNotRegular(err) {
		return nil, fmt.Errorf("not a regular file: its content is not read")
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &sfs); err == nil {
		if name, ok := pseudoFS[int64(sfs.Type)]; ok {
			f.Close()
			return nil, fmt.Errorf("on %s, the kernel's state rather than a file: its content is not read", name)
		}
	}
	if fi.Size() > MaxContentBytes {
		f.Close()
		return nil, fmt.Errorf("larger than %d MB: its content is not read", MaxContentBytes>>20)
	}
	return f, nil
}

// readContent fills the digest and the matches of st from the file at p.
func readContent(root *hostfs.FS, p string, st *snapshot.FileState, w snapshot.FileWant) {
	f, err := openContent(root, p)
	if err != nil {
		st.ContentError = err.Error()
		return
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxContentBytes+1))
	switch {
	case err != nil:
		st.ContentError = err.Error()
		return
	case len(b) > MaxContentBytes:
		st.ContentError = fmt.Sprintf("larger than %d MB: its content is not read", MaxContentBytes>>20)
		return
	}
	if w.SHA256 {
		sum := sha256.Sum256(b)
		st.SHA256 = hex.EncodeToString(sum[:])
	}
	seen := map[string]bool{}
	for _, p := range w.Patterns {
		if seen[p] {
			continue
		}
		seen[p] = true
		m, err := Match(bytes.NewReader(b), p, w.Reveal)
		if err != nil {
			st.ContentError = err.Error()
			return
		}
		st.Matches = append(st.Matches, m)
	}
}

// Match reads r line by line and records which lines the regular
// expression pattern matches: their numbers, and their text only when
// reveal is set.
func Match(r io.Reader, pattern string, reveal bool) (snapshot.FileMatch, error) {
	m := snapshot.FileMatch{Pattern: pattern, Lines: []int{}}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return m, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxContentBytes)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if !re.MatchString(line) {
			continue
		}
		m.Count++
		if len(m.Lines) < snapshot.MaxMatchLines {
			m.Lines = append(m.Lines, n)
			if reveal {
				m.Text = append(m.Text, line)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("read line %d: %w", n+1, err)
	}
	return m, nil
}

// Where owners' names are read.
const (
	passwdPath = agent.PasswdPath
	groupPath  = "/etc/group"
)

// names maps uids and gids to names from /etc/passwd (the run's reading,
// shared with the other collectors) and /etc/group below the root, read
// once and only when needed.
type names struct {
	env           *agent.Env
	users, groups map[uint32]string
}

func newNames(env *agent.Env) *names { return &names{env: env} }

func (n *names) user(uid uint32) string {
	if n.users == nil {
		accounts, _, _ := n.env.Users()
		n.users = passwd.Names(accounts)
	}
	return n.users[uid]
}

func (n *names) group(gid uint32) string {
	if n.groups == nil {
		n.groups = n.read(groupPath)
	}
	return n.groups[gid]
}

func (n *names) read(p string) map[uint32]string {
	f, err := openContent(n.env.FS(), p)
	if err != nil {
		return map[uint32]string{}
	}
	defer f.Close()
	return ParseIDs(f)
}

// ParseIDs reads a passwd or group file (name:x:id:...) into id → name;
// the first name of an id wins, as in getpwuid.
func ParseIDs(r io.Reader) map[uint32]string {
	out := map[uint32]string{}
	sc := bufio.NewScanner(io.LimitReader(r, MaxContentBytes))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 || f[0] == "" || strings.HasPrefix(f[0], "#") {
			continue
		}
		id, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := out[uint32(id)]; !dup {
			out[uint32(id)] = f[0]
		}
	}
	return out
}
