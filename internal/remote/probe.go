package remote

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// probeScript asks the target for its kernel and architecture and for every
// hostdrift it has (on PATH, /usr/bin, /usr/local/bin): path, version line
// and SHA-256. It only reads.
const probeScript = `echo ` + probeMarker + `; uname -sm; ` +
	`for h in "$(command -v hostdrift 2>/dev/null)" /usr/bin/hostdrift /usr/local/bin/hostdrift; do ` +
	`[ -n "$h" ] && [ -f "$h" ] && [ -x "$h" ] || continue; ` +
	`printf 'bin\t%s\t%s\t%s\n' "$h" "$("$h" version 2>/dev/null | head -n 1)" "$(sha256sum < "$h" 2>/dev/null | cut -d ' ' -f 1)"; ` +
	`done; echo end`

// probeMarker starts probeScript's answer: what a login script prints
// before it is skipped.
const probeMarker = "hostdrift-probe"

// Installed is a hostdrift the target already has.
type Installed struct {
	Path    string
	Version string // as `hostdrift version` prints it: "hostdrift v1.2.3"
	SHA256  string // hex; empty when the target has no sha256sum
}

// Probe is what the target said about itself.
type Probe struct {
	OS, Machine string // uname -s, uname -m
	Installed   []Installed
}

// ParseProbe reads probeScript's output (lines before its marker, which a
// chatty login script may print, are skipped).
func ParseProbe(r io.Reader) (Probe, error) {
	var p Probe
	sc := bufio.NewScanner(r)
	started, first, end := false, true, false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !started:
			started = line == probeMarker
		case first:
			first = false
			f := strings.Fields(line)
			if len(f) != 2 {
				return p, fmt.Errorf("uname -sm printed %q, not a kernel name and a machine", line)
			}
			p.OS, p.Machine = f[0], f[1]
		case strings.HasPrefix(line, "bin\t"):
			f := strings.Split(line, "\t")
			if len(f) != 4 {
				return p, fmt.Errorf("unexpected line %q", line)
			}
			p.Installed = append(p.Installed, Installed{Path: f[1], Version: f[2], SHA256: f[3]})
		case line == "end":
			end = true
		}
	}
	if err := sc.Err(); err != nil {
		return p, err
	}
	if first || !end {
		return p, fmt.Errorf("the answer ended early (the remote shell is not a POSIX shell, or a login script prints)")
	}
	return p, nil
}

// unameMachines maps a Go architecture to the names uname -m gives it.
var unameMachines = map[string][]string{
	"amd64":    {"x86_64", "amd64"},
	"arm64":    {"aarch64", "arm64", "aarch64_be"},
	"386":      {"i386", "i486", "i586", "i686"},
	"arm":      {"armv6l", "armv7l", "armv8l"},
	"riscv64":  {"riscv64"},
	"ppc64le":  {"ppc64le"},
	"s390x":    {"s390x"},
	"loong64":  {"loongarch64"},
	"mips64le": {"mips64"},
}

// Self is the hostdrift that runs here, as a candidate to run there.
type Self struct {
	Path    string // os.Executable
	Version string // the version string, "dev" for an unversioned build
	SHA256  string // hex
	GOOS    string
	GOARCH  string
}

// Choice is how the target will run hostdrift.
type Choice struct {
	Path   string // the target's own hostdrift; empty: copy Self
	Reason string // why
}

// Choose decides whether the target's own hostdrift can run the audit: it
// can when it is the same version as this one (a release: a version that
// says which commit it was built from and no local changes), or the very
// same bytes. Otherwise this binary is copied, which only works when the
// target runs the same kernel and architecture.
func Choose(self Self, p Probe) (Choice, error) {
	for _, in := range p.Installed {
		if in.SHA256 != "" && in.SHA256 == self.SHA256 {
			return Choice{Path: in.Path, Reason: "the same binary as this one"}, nil
		}
	}
	if released(self.Version) {
		for _, in := range p.Installed {
			if in.Version == "hostdrift "+self.Version {
				return Choice{Path: in.Path, Reason: "the same version, " + self.Version}, nil
			}
		}
	}
	if p.OS != self.GOOS && !strings.EqualFold(p.OS, self.GOOS) {
		return Choice{}, fmt.Errorf("the host runs %s, and this hostdrift is built for %s: install hostdrift %s there", p.OS, self.GOOS, self.Version)
	}
	for _, m := range unameMachines[self.GOARCH] {
		if p.Machine == m {
			return Choice{Reason: "no hostdrift " + self.Version + " there"}, nil
		}
	}
	return Choice{}, fmt.Errorf("the host is %s (uname -m), and this hostdrift is built for %s: build one for it (GOARCH=...) and install it there, or run hostdrift from a machine of that architecture", p.Machine, self.GOARCH)
}

// released reports whether a version names one build: not a development
// build, nor one with uncommitted changes.
func released(v string) bool {
	return v != "" && v != "dev" && !strings.HasSuffix(v, "+dirty") && !strings.HasSuffix(v, "-dirty")
}
