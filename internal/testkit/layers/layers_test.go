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
	// except are trees under pkg the rule does not cover (they have a
	// rule of their own).
	except []string
}{
	{"rules", "rules judge a snapshot and never touch the host",
		[]string{module + "/agent", "github.com/vishvananda", "github.com/moby", "golang.org/x/sys", "net/http", "os/exec"}, []string{"os", "net", "syscall"}, nil},
	{"internal/snapshot", "the snapshot model is a leaf of plain types", []string{module, "github.com/moby"}, nil, nil},
	{"internal/finding", "findings are a leaf of plain types", []string{module}, nil, nil},
	{"internal/report", "reports render; they neither collect nor judge", []string{module + "/agent", module + "/rules", "github.com/moby", "os/exec"}, nil, nil},
	{"agent", "collectors read; they never judge or render", []string{module + "/rules", module + "/internal/report"}, nil, nil},
	{"internal", "internal/ holds contracts, the simulator, parsers and renderers: it depends on neither collectors nor rules (the engine, internal/audit and internal/serve, wires them)",
		[]string{module + "/agent", module + "/rules"}, nil, []string{"internal/audit", "internal/serve"}},
	{"internal/audit", "the pipeline runs collectors and rules through their contracts: it touches the host only through agent/",
		[]string{"github.com/moby", "github.com/vishvananda", "github.com/google/nftables", "golang.org/x/sys", "os/exec", "net/http", module + "/internal/report"}, []string{"os", "syscall"}, nil},
	{"internal/serve", "serve's loop and HTTP side: it reads the host only through internal/audit and agent/watch's events",
		[]string{"github.com/moby", "github.com/vishvananda", "github.com/google/nftables", "golang.org/x/sys", "os/exec", module + "/agent/survey"}, []string{"syscall"}, nil},
	{"internal/parse", "parsers take text and return values: no I/O of their own, no host",
		[]string{module + "/agent", module + "/rules", module + "/internal/sys", "os/exec", "net/http"}, []string{"os", "net", "syscall"}, nil},
}

// exempt lists the trees a rule does not cover: the test harness and the
// benchmark build test hosts, and may use anything.
var exempt = []string{"internal/testkit", "internal/bench"}

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
			if pkg != rule.pkg && !strings.HasPrefix(pkg, rule.pkg+"/") || violates(pkg, exempt, nil) || violates(pkg, rule.except, nil) {
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
	if checked < 10 {
		t.Errorf("only %d packages checked; the layout changed?", checked)
	}
}

// TestHarnessNeverShips checks that the binary is built from none of the test
// harness and benchmark packages: they start daemons and build test hosts.
func TestHarnessNeverShips(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", module+"/cmd/hostdrift").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps named only %d packages: %v", len(deps), deps)
	}
	for _, d := range deps {
		for _, tree := range exempt {
			if violates(d, []string{module + "/" + tree}, nil) {
				t.Errorf("the hostdrift binary is built from %s: nothing that ships may import %s", d, tree)
			}
		}
	}
}
