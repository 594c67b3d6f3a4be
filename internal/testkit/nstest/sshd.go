package nstest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// SSHUser is the unprivileged user every SSHD knows besides root, with
// passwordless sudo there: it exists only inside the server's mount
// namespace (its own copies of /etc/passwd, /etc/group, /etc/shadow and
// /etc/sudoers.d), never on this machine.
const (
	SSHUser = "hdssh"
	sshUID  = 47911
)

// SSHD is an OpenSSH server (Debian's /usr/sbin/sshd) that a test started in
// a network namespace and a mount namespace of its own.
type SSHD struct {
	// Addr and Port are where it listens.
	Addr string
	Port int
	// TmpDir is the TMPDIR its sessions get (empty at the start; mode 1777).
	TmpDir string
	// Key is the client's private key, authorized for root and SSHUser;
	// KnownHosts the known_hosts line for the server's host key.
	Key        string
	KnownHosts string
}

// SSHDOptions change what the server's host looks like.
type SSHDOptions struct {
	// Hostdrift, when set, is installed there as /usr/local/bin/hostdrift
	// (bind-mounted in the server's mount namespace); otherwise that
	// folder is empty there.
	Hostdrift string
	// Sudo is what SSHUser may run as root without a password there, in
	// sudoers' syntax (default ALL).
	Sudo string
}

// StartSSHD starts sshd on addr:port inside n with a fresh host key and a
// fresh user key, and returns once it listens. Its mount namespace has an
// empty /run of its own (sshd needs /run/sshd), the test user and, per
// opts, hostdrift installed. It is killed when the test ends.
func (n *NS) StartSSHD(t TB, addr string, port int, opts SSHDOptions) *SSHD {
	t.Helper()
	RequireCommand(t, "/usr/sbin/sshd")
	RequireCommand(t, "ssh-keygen")
	RequireCommand(t, "unshare")
	dir, err := os.MkdirTemp(Dir(t), "sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := func(name string) string { return filepath.Join(dir, name) }
	write := func(name, text string, mode os.FileMode) {
		if err := os.WriteFile(path(name), []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	mkdir := func(name string, mode os.FileMode, uid int) {
		if err := os.Mkdir(path(name), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path(name), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path(name), uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o755)
	for _, key := range []string{"host_key", "user_key"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hostdrift-test", "-f", path(key)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub := func(key string) string {
		b, err := os.ReadFile(path(key + ".pub"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	write("authorized_keys", pub("user_key")+"\n", 0o644)
	write("known_hosts", fmt.Sprintf("[%s]:%d %s\n", addr, port, pub("host_key")), 0o644)
	mkdir("tmp", 0o777|os.ModeSticky, 0)
	mkdir("home", 0o755, sshUID)
	mkdir("bin", 0o755, 0)
	mkdir("sudoers.d", 0o755, 0)
	if opts.Sudo == "" {
		opts.Sudo = "ALL"
	}
	write("sudoers.d/hdssh", SSHUser+" ALL=(root) NOPASSWD: "+opts.Sudo+"\n", 0o440)
	for _, f := range []struct{ name, line string }{
		{"passwd", fmt.Sprintf("%s:x:%d:%d:hostdrift ssh test:%s:/bin/sh\n", SSHUser, sshUID, sshUID, path("home"))},
		{"group", fmt.Sprintf("%s:x:%d:\n", SSHUser, sshUID)},
		{"shadow", SSHUser + ":*:19000:0:99999:7:::\n"},
	} {
		b, err := os.ReadFile("/etc/" + f.name)
		if err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if f.name == "shadow" {
			mode = 0o640
		}
		write(f.name, string(b)+f.line, mode)
	}
	if opts.Hostdrift != "" {
		b, err := os.ReadFile(opts.Hostdrift)
		if err != nil {
			t.Fatal(err)
		}
		write("bin/hostdrift", string(b), 0o755)
	}
	write("sshd_config", strings.Join([]string{
		"ListenAddress " + addr + ":" + strconv.Itoa(port),
		"HostKey " + path("host_key"),
		"AuthorizedKeysFile " + path("authorized_keys"),
		"StrictModes no",
		"UsePAM no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"AllowUsers root " + SSHUser,
		"PidFile none",
		"SetEnv TMPDIR=" + path("tmp"),
		"LogLevel INFO",
		"",
	}, "\n"), 0o644)
	// Everything below happens in the server's own mount namespace.
	script := strings.Join([]string{
		"set -e",
		"mount -t tmpfs -o mode=0755 hostdrift-test-run /run",
		"mkdir -m 0755 /run/sshd",
		"for f in passwd group shadow; do mount --bind " + dir + "/$f /etc/$f; done",
		"mount --bind " + path("sudoers.d") + " /etc/sudoers.d",
		"mount --bind " + path("bin") + " /usr/local/bin",
		"exec /usr/sbin/sshd -D -e -f " + path("sshd_config"),
	}, "\n")
	cmd := n.Command("unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	// sshd -D -e says "Server listening on ADDR port PORT." once it listens,
	// then logs each connection: keep reading so it never blocks.
	ready := make(chan bool, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			if !said {
				log.WriteString(sc.Text() + "\n")
			}
			if !said && strings.Contains(sc.Text(), "Server listening on") {
				said = true
				ready <- true
			}
		}
		io.Copy(io.Discard, stderr)
		if !said {
			ready <- false
		}
	}()
	if !<-ready {
		cmd.Wait()
		t.Fatalf("sshd on %s:%d did not start:\n%s", addr, port, log.String())
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return &SSHD{Addr: addr, Port: port, TmpDir: path("tmp"), Key: path("user_key"), KnownHosts: path("known_hosts")}
}

// SSHClientConfig writes an ssh_config (for ssh -F) that reaches the servers
// with their keys and known hosts, and nothing of this machine's: no agent,
// no ~/.ssh/known_hosts.
func SSHClientConfig(t TB, servers ...*SSHD) string {
	t.Helper()
	var keys, known []string
	for _, s := range servers {
		keys = append(keys, "  IdentityFile "+s.Key)
		known = append(known, s.KnownHosts)
	}
	cfg := "Host *\n" + strings.Join(keys, "\n") + "\n" +
		"  IdentitiesOnly yes\n  IdentityAgent none\n" +
		"  UserKnownHostsFile " + strings.Join(known, " ") + "\n" +
		"  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n" +
		"  PasswordAuthentication no\n  KbdInteractiveAuthentication no\n  LogLevel ERROR\n"
	f, err := os.CreateTemp(Dir(t), "ssh_config-")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Cleanup(func() { os.Remove(f.Name()) })
	if _, err := f.WriteString(cfg); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}
