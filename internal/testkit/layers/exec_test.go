package layers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// execAllowed lists every place hostdrift's own code (tests and test
// helpers aside) may start a program, with what it runs. Each must run a
// read-only tool by absolute path with a fixed argument list and no shell.
// A new exec call fails this test until it is reviewed and listed here.
// Libraries run programs too, and are reviewed by hand: go-iptables' New
// (agent/firewall/collector.go:iptablesCommand) runs "iptables --version",
// which only prints.
var execAllowed = map[string]string{
	"agent/firewall/collector.go:readSave": "the iptables dump tools, /usr/sbin/{ip,ip6}tables-{nft,legacy}-save, no arguments",
	"agent/jobs/logs.go:readJournal":       "/usr/bin/journalctl (or /bin), reading cron's messages as JSON: fixed flags, a --since window, --directory below --root",
	// The one exec that is not a read-only tool of this host: check --ssh
	// runs the local ssh client (never a local shell) to audit another
	// host the operator named. On that host it runs fixed POSIX sh scripts
	// (internal/remote: probe, copy, run) whose only write is hostdrift's
	// own private temporary copy, removed afterwards; nothing on this host
	// is written.
	"internal/remote/ssh.go:ssh": "/usr/bin/ssh (check --ssh): BatchMode=yes, -T -a -x, ClearAllForwardings, the operator's -F and -o options, [user@]host[:port] after --, and one of internal/remote's fixed scripts as the remote command, its arguments shell-quoted",
}

// execFuncs are the calls that start programs.
var execFuncs = map[string]bool{
	"exec.Command": true, "exec.CommandContext": true, "syscall.Exec": true,
	"syscall.ForkExec": true, "os.StartProcess": true, "unix.Exec": true,
}

// TestExecAudit finds every call that starts a program in the packages the
// hostdrift binary is built from (test helpers and the benchmark harness,
// which build test hosts, are not in it) and checks it against execAllowed:
// hostdrift never runs a command that writes.
func TestExecAudit(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Dir}}", module+"/cmd/hostdrift").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	packages := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		imp, dir, _ := strings.Cut(line, " ")
		if imp != module && !strings.HasPrefix(imp, module+"/") {
			continue
		}
		packages++
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			rel, _ := filepath.Rel(root, path)
			auditFile(t, path, rel, found)
		}
	}
	if packages < 10 {
		t.Fatalf("only %d of the module's packages are in the binary? go list said:\n%s", packages, out)
	}
	var stale []string
	for where := range execAllowed {
		if !found[where] {
			stale = append(stale, where)
		}
	}
	sort.Strings(stale)
	for _, w := range stale {
		t.Errorf("execAllowed lists %s, which no longer starts a program: remove it", w)
	}
}

// auditFile records, and reports unless allowed, every call in the file
// that starts a program.
func auditFile(t *testing.T, path, rel string, found map[string]bool) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok {
			continue
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok || !execFuncs[pkg.Name+"."+sel.Sel.Name] {
				return true
			}
			where := rel + ":" + fn.Name.Name
			found[where] = true
			if _, ok := execAllowed[where]; !ok {
				t.Errorf("%s: %s.%s in %s starts a program and is not in execAllowed: make sure it only reads (absolute path, fixed arguments, no shell), then list it", fset.Position(call.Pos()), pkg.Name, sel.Sel.Name, fn.Name.Name)
			}
			return true
		})
	}
}
