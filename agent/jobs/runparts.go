package jobs

import (
	"io"
	"path"
	"slices"
	"strings"

	"github.com/hostdrift/hostdrift/internal/parse/crontab"
)

// runPartsPrograms are where run-parts is installed, looked up in order.
var runPartsPrograms = []string{"/usr/bin/run-parts", "/bin/run-parts"}

// runPartsKind is the run-parts installed, which decides the names of a
// folder's files it runs: Debian's (debianutils, a compiled program) runs
// only names of letters, digits, _ and -; the crontabs package's (RHEL,
// Fedora; a shell script) runs every name but hidden files, backups (~ and
// ,) and *.rpmsave, .rpmorig, .rpmnew, .swp, .cfsaved, and honours a
// folder's jobs.deny and jobs.allow lists.
type runPartsKind struct {
	// script is set for the crontabs package's shell script.
	script bool
	// program is where it was found.
	program string
}

// installedRunParts reads the head of the run-parts installed: a "#!"
// script is the crontabs package's, anything else Debian's.
func installedRunParts(fsys rootFS) runPartsKind {
	for _, p := range runPartsPrograms {
		f, err := fsys.open(p)
		if err != nil {
			continue
		}
		head := make([]byte, 2)
		n, _ := io.ReadFull(f, head)
		f.Close()
		return runPartsKind{script: n == 2 && string(head) == "#!", program: p}
	}
	return runPartsKind{}
}

// crontabsSkipped are the name endings the crontabs package's run-parts
// skips.
var crontabsSkipped = []string{"~", ",", ".rpmsave", ".rpmorig", ".rpmnew", ".swp", ".cfsaved"}

// runs returns, for the folder dir, a function that says why run-parts
// never runs a file of it ("" when it does).
func (k runPartsKind) runs(fsys rootFS, dir string) func(name string) string {
	if !k.script {
		return func(name string) string {
			if crontab.RunPartsName(name) {
				return ""
			}
			return "run-parts runs only files named with letters, digits, _ and -; this one never runs"
		}
	}
	deny, hasDeny := jobsList(fsys, path.Join(dir, "jobs.deny"))
	allow, hasAllow := jobsList(fsys, path.Join(dir, "jobs.allow"))
	return func(name string) string {
		switch {
		case name == "jobs.deny" || name == "jobs.allow":
			return k.program + " (the crontabs package's run-parts) reads " + name + " as its list of the folder's jobs; it is no job"
		case strings.HasPrefix(name, "."):
			return k.program + " (the crontabs package's run-parts) skips hidden files; this one never runs"
		case slices.ContainsFunc(crontabsSkipped, func(s string) bool { return strings.HasSuffix(name, s) }):
			return k.program + " (the crontabs package's run-parts) skips names ending in ~ , .rpmsave .rpmorig .rpmnew .swp .cfsaved; this one never runs"
		case hasDeny && slices.Contains(deny, name):
			return "listed in " + path.Join(dir, "jobs.deny") + ": run-parts never runs it"
		case hasAllow && !slices.Contains(allow, name):
			return "not listed in " + path.Join(dir, "jobs.allow") + ": run-parts never runs it"
		}
		return ""
	}
}

// jobsList reads a jobs.deny or jobs.allow list: one name a line, as the
// crontabs package's run-parts greps it (whole lines).
func jobsList(fsys rootFS, p string) ([]string, bool) {
	b, err := fsys.readFile(p)
	if err != nil {
		return nil, false
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n"), true
}
