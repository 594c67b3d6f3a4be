// Package processes collects the processes running on the live host from
// /proc: name, redacted command line, user, and whether each runs in
// hostdrift's own PID and mount namespaces (only those are evidence about
// this host).
package processes

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/parse/passwd"
	"github.com/hostdrift/hostdrift/internal/parse/redact"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/procns"
)

func init() {
	agent.Register(snapshot.CollectorProcesses, func() agent.Collector { return collector{proc: "/proc"} })
}

type collector struct{ proc string }

// passwdPath names the processes' users.
const passwdPath = agent.PasswdPath

// Reads declares what the collector reads below the root: the user names.
// The processes themselves are the kernel's, polled.
func (collector) Reads() []agent.Path { return []agent.Path{agent.File(passwdPath)} }

// MaxCommand bounds a recorded command line.
const MaxCommand = 4096

// Collect reads every process of /proc on the live host.
func (c collector) Collect(ctx context.Context, env *agent.Env) (snapshot.Section, error) {
	if env.Root != "" && env.Root != "/" {
		return nil, agent.Skip("processes are read only on the live host, not below --root")
	}
	ref, err := procns.For(c.proc, true)
	if err != nil {
		return nil, fmt.Errorf("read hostdrift's own namespaces: %w", err)
	}
	ents, err := os.ReadDir(c.proc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", c.proc, err)
	}
	accounts, _, _ := env.Users()
	users := passwd.Names(accounts)
	out := &snapshot.Processes{Processes: []snapshot.RunningProcess{}}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p, ok := read(filepath.Join(c.proc, e.Name()), pid, ref)
		if !ok {
			continue // exited while read
		}
		p.User = users[p.UID]
		out.Processes = append(out.Processes, p)
	}
	sort.Slice(out.Processes, func(i, j int) bool { return out.Processes[i].PID < out.Processes[j].PID })
	return out, nil
}

// read reads one process; ok is false when it is gone.
func read(dir string, pid int, ref *procns.Host) (snapshot.RunningProcess, bool) {
	p := snapshot.RunningProcess{PID: pid}
	comm, err := readLimited(filepath.Join(dir, "comm"), 256)
	if err != nil {
		return p, false
	}
	p.Name = strings.TrimSuffix(string(comm), "\n")
	st, err := os.Open(filepath.Join(dir, "status"))
	if err != nil {
		return p, false
	}
	uid, ok := StatusUID(io.LimitReader(st, 64<<10))
	st.Close()
	if !ok {
		return p, false
	}
	p.UID = uid
	if raw, err := readLimited(filepath.Join(dir, "cmdline"), 64<<10); err == nil {
		p.Command = Command(raw)
	}
	host, err := ref.Has(pid)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return p, false
	case err != nil:
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		p.NSError = "its namespaces could not be read: " + msg + " (reading another user's needs CAP_SYS_PTRACE: run as root)"
	default:
		p.Host = host
	}
	return p, true
}

// StatusUID reads the real uid from /proc/PID/status ("Uid:\t0\t0\t0\t0").
func StatusUID(r io.Reader) (uint32, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Uid:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		n, err := strconv.ParseUint(f[0], 10, 32)
		return uint32(n), err == nil
	}
	return 0, false
}

// Command turns the NUL-separated /proc/PID/cmdline into one redacted line
// of at most MaxCommand bytes.
func Command(raw []byte) string {
	raw = bytes.TrimRight(raw, "\x00")
	if len(raw) == 0 {
		return ""
	}
	s := strings.Join(redact.Args(strings.Split(string(raw), "\x00")), " ")
	if len(s) > MaxCommand {
		cut := MaxCommand
		for cut > 0 && s[cut]&0xc0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func readLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}
