// Package layers holds the test that keeps hostdrift's layers apart:
// collectors read, rules judge, reports render.
package layers

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/hostdrift/hostdrift"

// forbidden lists, for the packages under pkg, the imports they must not
// make: trees (a package and everything below it) and exact packages.
var forbidden = []struct {
	pkg, why string
	trees    []string
	exact    []string
}{
	{"rules", "rules judge a snapshot and never touch the host",
		[]string{module + "/agent", "github.com/vishvananda", "github.com/moby", "golang.org/x/sys", "net/http", "os/exec"}, []string{"os", "net", "syscall"}},
	{"internal/snapshot", "the snapshot model is a leaf of plain types", []string{module, "github.com/moby"}, nil},
	{"internal/finding", "findings are a leaf of plain types", []string{module}, nil},
	{"internal/report", "reports render; they neither collect nor judge", []string{module + "/agent", module + "/rules", "github.com/moby", "os/exec"}, nil},
	{"agent", "collectors read; they never judge or render", []string{module + "/rules", module + "/internal/report"}, nil},
}

func violates(imp string, trees, exact []string) bool {
	for _, t := range trees {
		if imp == t || strings.HasPrefix(imp, t+"/") {
			return true
		}
	}
	for _, e := range exact {
		if imp == e {
			return true
		}
	}
	return false
}

func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := strings.TrimPrefix(fields[0], module+"/"), fields[1:]
		for _, rule := range forbidden {
			if pkg != rule.pkg && !strings.HasPrefix(pkg, rule.pkg+"/") {
				continue
			}
			checked++
			for _, imp := range imports {
				if violates(imp, rule.trees, rule.exact) {
					t.Errorf("%s imports %s: %s", pkg, imp, rule.why)
				}
			}
		}
	}
	if checked < 5 {
		t.Errorf("only %d packages checked; the layout changed?", checked)
	}
}
