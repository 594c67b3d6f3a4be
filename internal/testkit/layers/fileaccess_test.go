package layers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// hostFileCalls are the calls that open, stat, list, glob or resolve a
// file by path, by package import path. A collector reads the host's files
// through its Env.FS() (internal/sys/hostfs), which resolves every path
// inside --root, reads only regular files, never blocks and bounds reads;
// one of these calls on a host path bypasses all four. hostfs.New is here
// too: a collector takes its tree from Env, never builds one.
var hostFileCalls = map[string][]string{
	"os":                            {"Open", "OpenFile", "ReadFile", "Stat", "Lstat", "ReadDir", "Readlink", "DirFS", "OpenRoot", "OpenInRoot"},
	"path/filepath":                 {"Glob", "EvalSymlinks", "Walk", "WalkDir"},
	"io/ioutil":                     {"ReadFile", "ReadDir"},
	"syscall":                       {"Open", "Openat", "Stat", "Lstat", "Readlink", "Statfs"},
	"golang.org/x/sys/unix":         {"Open", "Openat", "Openat2", "Stat", "Lstat", "Fstatat", "Readlink", "Readlinkat", "Statfs", "Access", "Faccessat"},
	module + "/internal/sys/hostfs": {"New"},
}

// fileAccessAllowed lists, as file:function:call, every place a collector
// package touches a file other than through Env.FS(), with why it may.
// None of them reads a host file below --root. A new such call fails
// TestCollectorsReadHostFilesOneWay until it is reviewed and listed here.
var fileAccessAllowed = map[string]string{
	// The live kernel and this machine's own tools, not files of the host
	// under --root.
	"agent/firewall/collector.go:Collect:os.Open":                       "Env.NetNS, a network namespace file (/run/netns/NAME) given on the command line, opened to enter it",
	"agent/firewall/collector.go:legacyTables:os.ReadFile":              "/proc/thread-self/net/*, the live kernel's tables of the namespace this thread entered (setns)",
	"agent/firewall/collector.go:iptablesCommand:os.Stat":               "this machine's iptables binary, the one hostdrift runs, not a host file",
	"agent/firewall/collector.go:iptablesCommand:filepath.EvalSymlinks": "this machine's iptables binary, to tell the nft variant from legacy",
	"agent/firewall/collector.go:readSave:os.Stat":                      "this machine's {ip,ip6}tables-*-save tools, the ones hostdrift runs",
	"agent/firewall/ipset.go:readIPSets:os.Stat":                        "/sys/module/ip_set: whether the live kernel has the module loaded",
	"agent/jobs/logs.go:readJournal:os.Stat":                            "this machine's journalctl, the program run (the journal folder below --root goes through Env.FS().Resolve)",
	"agent/mounts/mounts.go:readMountinfo:os.Open":                      "/proc/self/mountinfo or /proc/PID/mountinfo, the live kernel's mount table; read only on the live host",
	"agent/mounts/mounts.go:spaceAt:unix.Statfs":                        "statfs of live mount points, read only on the live host",
	"agent/mounts/mounts.go:linkTarget:filepath.EvalSymlinks":           "/dev/disk/by-* links of the live host's udev, resolved only on the live host",
	"agent/mounts/mounts.go:linkTarget:os.Readlink":                     "/dev/disk/by-* links of the live host's udev read through PID 1's root, only on the live host",
	"agent/processes/processes.go:Collect:os.ReadDir":                   "/proc of the live kernel: processes are read only on the live host (skipped below --root)",
	"agent/processes/processes.go:read:os.Open":                         "/proc/PID/status of the live kernel, live host only",
	"agent/processes/processes.go:readLimited:os.Open":                  "/proc/PID/{cmdline,comm} of the live kernel, live host only",
	"agent/sysctl/sysctl.go:Collect:unix.Statfs":                        "/proc/sys of the live kernel, to tell a read-only /proc/sys; live host only",
	"agent/listeners/owners_linux.go:findOwners:unix.Readlinkat":        "the single names listed in a /proc/PID/fd folder opened through Env.FS().OpenDir: each link itself, never followed",
	// A copy on this machine of what was read through Env.FS().
	"internal/sys/rpmstore/rpmstore.go:copyOut:os.OpenFile": "creates the copy of rpm's SQLite database (read through Env.FS().Open) in a private os.MkdirTemp folder of this machine's, for the SQLite library, which opens by name; never a host path",
}

// hostReaders are packages outside agent/ that read host files for
// collectors, through the hostfs.FS a collector hands them.
var hostReaders = []string{"internal/sys/rpmstore"}

// collectorDirs returns the folders under agent/ whose package registers
// a collector (calls agent.Register outside its tests), relative to root.
func collectorDirs(t *testing.T, root string) map[string][]string {
	t.Helper()
	files := map[string][]string{}
	registers := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(root, "agent"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		dir := filepath.Dir(path)
		files[dir] = append(files[dir], path)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "agent" && sel.Sel.Name == "Register" {
					registers[dir] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for dir := range registers {
		out[dir] = files[dir]
	}
	return out
}

// TestCollectorsReadHostFilesOneWay fails when a collector package opens,
// stats, lists, globs or resolves a file any way but through Env.FS(),
// outside fileAccessAllowed.
func TestCollectorsReadHostFilesOneWay(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dirs := collectorDirs(t, root)
	if len(dirs) < 10 {
		t.Fatalf("only %d collector packages under agent/ register a collector; the layout changed?", len(dirs))
	}
	// Readers of host files that collectors call with their Env.FS() are
	// held to the same rule.
	for _, d := range hostReaders {
		files, err := filepath.Glob(filepath.Join(root, d, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("host reader %s has no Go files (%v): the layout changed?", d, err)
		}
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				dirs[d] = append(dirs[d], f)
			}
		}
	}
	found := map[string]bool{}
	for _, files := range dirs {
		for _, path := range files {
			rel, _ := filepath.Rel(root, path)
			auditFileAccess(t, path, filepath.ToSlash(rel), found)
		}
	}
	var stale []string
	for where := range fileAccessAllowed {
		if !found[where] {
			stale = append(stale, where)
		}
	}
	sort.Strings(stale)
	for _, w := range stale {
		t.Errorf("fileAccessAllowed lists %s, which no longer makes that call: remove it", w)
	}
}

// auditFileAccess records, and reports unless allowed, every call of
// hostFileCalls in the file, whatever name its package is imported under.
func auditFileAccess(t *testing.T, path, rel string, found map[string]bool) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	imported := map[string]string{} // local name → import path
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imported[name] = p
	}
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok {
			continue
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok || pkg.Obj != nil { // a local variable, not a package
				return true
			}
			funcs, ok := hostFileCalls[imported[pkg.Name]]
			if !ok || !contains(funcs, sel.Sel.Name) {
				return true
			}
			short := imported[pkg.Name][strings.LastIndex(imported[pkg.Name], "/")+1:]
			where := rel + ":" + fn.Name.Name + ":" + short + "." + sel.Sel.Name
			found[where] = true
			if _, ok := fileAccessAllowed[where]; !ok {
				t.Errorf("%s: %s.%s in %s touches a file without Env.FS(): read the host's files through Env.FS() (internal/sys/hostfs), which keeps them inside --root; if this is not a host file (the live kernel, a namespace file, this machine's own tool), list it in fileAccessAllowed with why",
					fset.Position(sel.Pos()), short, sel.Sel.Name, fn.Name.Name)
			}
			return true
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
