package nstest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
)

const hostdriftPackage = "github.com/hostdrift/hostdrift/cmd/hostdrift"

// Hostdrift builds the hostdrift command once per test process, as make
// build does (static, CGO_ENABLED=0), into a folder every user may read, so
// tests can run it as nobody or inside another root.
func Hostdrift(t TB) string { return buildOnce(t, "hostdrift", hostdriftPackage) }

// Dir returns this test process's scratch folder, which every user may
// read; the next test run removes it once this process is gone.
func Dir(t TB) string {
	t.Helper()
	dirOnce.Do(func() {
		sweepStale()
		dirPath = filepath.Join(tempRoot(), tempPrefix+strconv.Itoa(os.Getpid()))
		dirErr = os.MkdirAll(dirPath, 0o755)
		if dirErr == nil {
			dirErr = os.Chmod(dirPath, 0o755)
		}
	})
	if dirErr != nil {
		t.Fatal(dirErr)
	}
	return dirPath
}

var (
	dirOnce sync.Once
	dirPath string
	dirErr  error

	buildsMu sync.Mutex
	builds   = map[string]*built{}
)

type built struct {
	once sync.Once
	path string
	err  error
}

// buildOnce builds a main package of this module into Dir once per process.
func buildOnce(t TB, name, pkg string) string {
	t.Helper()
	dir := Dir(t)
	buildsMu.Lock()
	b, ok := builds[pkg]
	if !ok {
		b = &built{}
		builds[pkg] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			b.err = fmt.Errorf("the go command is needed to build %s: %w", name, err)
			return
		}
		path := filepath.Join(dir, name)
		cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags", "-s -w", "-o", path, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
			return
		}
		b.path = path
	})
	if b.err != nil {
		if Strict() || !errors.Is(b.err, exec.ErrNotFound) {
			t.Fatal(b.err)
		}
		t.Skip(b.err)
	}
	return b.path
}
