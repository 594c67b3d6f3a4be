package mounts

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// maxLine bounds one line of mountinfo or fstab.
const maxLine = 64 << 10

// unescape decodes the octal escapes the kernel and fstab use for blanks
// and backslashes in paths (\040 is a space, \011 a tab, \134 a backslash).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ParseMountinfo reads /proc/PID/mountinfo. When several file systems are
// mounted on one point, the last (the one on top, which paths reach) is
// kept, in the position of the first.
func ParseMountinfo(r io.Reader) ([]snapshot.Mount, error) {
	var out []snapshot.Mount
	at := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		before, after, ok := strings.Cut(line, " - ")
		f := strings.Fields(before)
		g := strings.Fields(after)
		if !ok || len(f) < 6 || len(g) < 2 {
			return nil, fmt.Errorf("mountinfo line %d: %q is not \"ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - TYPE SOURCE OPTIONS\"", n, clip(line))
		}
		m := snapshot.Mount{MountPoint: unescape(f[4]), FSType: g[0], Source: unescape(g[1]),
			Options: strings.Split(f[5], ","), SuperOptions: []string{}}
		if len(g) > 2 {
			m.SuperOptions = strings.Split(g[2], ",")
		}
		if i, dup := at[m.MountPoint]; dup {
			out[i] = m
			continue
		}
		at[m.MountPoint] = len(out)
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mountinfo line %d: %w", n+1, err)
	}
	return out, nil
}

// ParseFstab reads /etc/fstab: SOURCE MOUNTPOINT TYPE [OPTIONS [DUMP
// [PASS]]], comments and blank lines skipped. A line with fewer than three
// fields is an error naming the line, as mount(8) would refuse it.
func ParseFstab(r io.Reader) ([]snapshot.FstabEntry, error) {
	out := []snapshot.FstabEntry{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return out, fmt.Errorf("/etc/fstab line %d: %q has %d fields; a line is SOURCE MOUNTPOINT TYPE [OPTIONS [DUMP [PASS]]]", n, clip(line), len(f))
		}
		e := snapshot.FstabEntry{Line: n, Source: unescape(f[0]), MountPoint: unescape(f[1]), FSType: f[2], Options: []string{"defaults"}}
		if len(f) > 3 {
			e.Options = strings.Split(f[3], ",")
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("/etc/fstab line %d: %w", n+1, err)
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
