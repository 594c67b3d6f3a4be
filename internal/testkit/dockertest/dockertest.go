// Package dockertest gives tests a real Docker engine of their own: a dockerd
// with its own data-root, exec-root and socket, inside a throw-away network
// namespace, so that the iptables chains and bridges it installs never touch
// the machine's own network and two test packages can each run one.
package dockertest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// Label marks every network and container a test creates, so cleanup and a
// later run can find what an interrupted run left behind.
const Label = "hostdrift.test"

// Image is the name of the image Busybox imports.
const Image = "hostdrift-test/busybox:latest"

// Engine is a running dockerd of the test's own.
type Engine struct {
	// NS is the network namespace dockerd and its iptables chains live in.
	NS *nstest.NS
	// Host is the engine's address in DOCKER_HOST form: unix:///.../docker.sock.
	Host string
	// Socket is the path of the engine's unix socket.
	Socket string

	dir    string
	daemon *exec.Cmd
	exited chan struct{}
	cli    string
}

const dirPrefix = "hostdrift-dockerd-"

// Start runs a dockerd for the test and stops it, its containers and its
// namespace at cleanup. It needs root, dockerd (Debian: docker.io) and the
// docker command; under nstest.Strict their absence fails the test.
func Start(t nstest.TB, extraArgs ...string) *Engine {
	t.Helper()
	return StartEnv(t, nil, extraArgs...)
}

// StartEnv is Start with env (KEY=value) added to dockerd's environment,
// e.g. a PATH whose first folder holds the iptables the engine must use.
func StartEnv(t nstest.TB, env []string, extraArgs ...string) *Engine {
	t.Helper()
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "dockerd")
	nstest.RequireCommand(t, "nsenter")
	sweepStale()
	ns := nstest.New(t)
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &Engine{
		NS:     ns,
		Socket: filepath.Join(dir, "docker.sock"),
		dir:    dir,
		exited: make(chan struct{}),
		cli:    dockerCLI(t),
	}
	e.Host = "unix://" + e.Socket
	args := []string{
		"--net=" + ns.Path(), "--",
		"dockerd",
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"-H", e.Host,
	}
	args = append(args, extraArgs...)
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	// nsenter rather than ip netns exec: the latter remounts /sys, which
	// hides the cgroup hierarchies dockerd needs.
	e.daemon = exec.Command("nsenter", args...)
	e.daemon.Stdout, e.daemon.Stderr = logf, logf
	if len(env) > 0 {
		e.daemon.Env = append(os.Environ(), env...)
	}
	e.daemon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.daemon.Start(); err != nil {
		logf.Close()
		t.Fatalf("start dockerd: %v", err)
	}
	go func() { _ = e.daemon.Wait(); logf.Close(); close(e.exited) }()
	t.Cleanup(func() { e.stop(t) })

	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err := e.Command("version", "--format", "{{.Server.APIVersion}}").CombinedOutput()
		if err == nil {
			break
		}
		select {
		case <-e.exited:
			t.Fatalf("dockerd exited while starting:\n%s", e.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not answer within 90s: %v: %s\n%s", err, out, e.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return e
}

// dockerCLI prefers Debian's client, which is as old as its daemon.
func dockerCLI(t nstest.TB) string {
	if _, err := os.Stat("/usr/bin/docker"); err == nil {
		return "/usr/bin/docker"
	}
	nstest.RequireCommand(t, "docker")
	return "docker"
}

// Command returns a docker CLI command talking to this engine.
func (e *Engine) Command(args ...string) *exec.Cmd {
	cmd := exec.Command(e.cli, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host)
	return cmd
}

// Docker runs the docker CLI against this engine and returns its trimmed
// standard output; the test fails if the command fails.
func (e *Engine) Docker(t nstest.TB, args ...string) string {
	t.Helper()
	cmd := e.Command(args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// Busybox imports an image holding Debian's static busybox (package
// busybox-static) with its applets linked in /bin, and returns its name.
// No registry is needed.
func (e *Engine) Busybox(t nstest.TB) string {
	t.Helper()
	bb := "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		nstest.RequireCommand(t, "busybox")
		bb, _ = exec.LookPath("busybox")
	}
	root := filepath.Join(e.dir, "busybox-root")
	for _, d := range []string{"bin", "etc", "tmp", "var/www"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "sleep", "httpd", "nc", "cat", "echo", "ls", "true", "false", "wget"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var/www/index.html"), []byte("hostdrift test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.Import(t, root, Image, `CMD ["/bin/sh"]`)
	return Image
}

// Import streams a root folder into the engine as an image, numeric
// owners kept; changes are Dockerfile instructions (CMD [...]) to apply.
func (e *Engine) Import(t nstest.TB, root, image string, changes ...string) {
	t.Helper()
	tar := exec.Command("tar", "--numeric-owner", "-C", root, "-c", ".")
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	imp := e.Command(append(args, "-", image)...)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.Stdin = pipe
	if err := tar.Start(); err != nil {
		t.Fatal(err)
	}
	out, err := imp.CombinedOutput()
	if werr := tar.Wait(); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		t.Fatalf("docker import %s: %v: %s", image, err, out)
	}
}

// stop removes the test's containers, stops dockerd, kills what it left, and
// unmounts and removes its folders.
func (e *Engine) stop(t nstest.TB) {
	t.Helper()
	if ids, err := e.Command("ps", "-aq", "--filter", "label="+Label).Output(); err == nil {
		if f := strings.Fields(string(ids)); len(f) > 0 {
			_ = e.Command(append([]string{"rm", "-f"}, f...)...).Run()
		}
	}
	if e.daemon.Process != nil {
		_ = e.daemon.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(20 * time.Second):
			t.Logf("dockerd did not stop within 20s; killing it")
			_ = syscall.Kill(-e.daemon.Process.Pid, syscall.SIGKILL)
			<-e.exited
		}
	}
	if err := cleanDir(e.dir); err != nil {
		t.Errorf("clean up %s: %v", e.dir, err)
	}
}

// cleanDir kills every process started from dir (containerd and its shims
// outlive a killed dockerd), detaches the mounts below it and removes it.
func cleanDir(dir string) error {
	killMentioning(dir)
	for _, m := range mountsBelow(dir) {
		_ = syscall.Unmount(m, syscall.MNT_DETACH)
	}
	return os.RemoveAll(dir)
}

func killMentioning(dir string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), dir+"/") {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// mountsBelow lists the mount points under dir, deepest first.
func mountsBelow(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}

// sweepStale cleans the engines of test processes that died before cleanup.
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = cleanDir(d)
		}
	}
}

// logTail is the end of dockerd's log, for failure messages.
func (e *Engine) logTail() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "dockerd.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
