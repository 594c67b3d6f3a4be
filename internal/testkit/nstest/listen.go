package nstest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// HelperName is the listening helper's executable name, and so its process
// name (/proc/PID/comm).
const HelperName = "hd-listen"

const helperPackage = "github.com/hostdrift/hostdrift/internal/testkit/nstest/listenhelper"

// Listener is a helper process holding sockets inside a namespace.
type Listener struct {
	// PID is the helper's process ID.
	PID int
	// Specs are the sockets it opened, as given to Listen.
	Specs []string

	cmd   *exec.Cmd
	stdin io.Closer
	once  sync.Once
}

// Listen starts a helper process inside the namespace that opens the sockets
// described by specs, and returns once they are all open. The helper holds
// them until Stop or the end of the test. Specs are KIND:ADDRESS:PORT[:N]:
//
//	tcp4:127.0.0.1:8080   TCP listener (an optional :N is the backlog)
//	tcp6:[::1]:8443       IPv6 TCP listener with IPV6_V6ONLY=1
//	dual:[::]:9000        IPv6 TCP listener with IPV6_V6ONLY=0 (also takes IPv4)
//	v6only:[::]:9001      IPv6 TCP listener with IPV6_V6ONLY=1
//	udp4:127.0.0.1:5353   bound UDP socket; udp6 likewise with IPV6_V6ONLY=1
//	stall:127.0.0.1:7000:2
//	                      TCP listener with backlog 2 that never accepts, its
//	                      accept queue filled with backlog+1 = 3 connections
//	queue:127.0.0.1:7002:3
//	                      TCP listener with backlog 5 that never accepts,
//	                      with 3 connections waiting in its accept queue
//	accept:127.0.0.1:7001 TCP listener that accepts; it has accepted three
//	                      connections by the time Listen returns
//	many:127.0.0.1:20000:10000
//	                      10,000 TCP listeners on ports 20000 to 29999
//	serve:127.0.0.1:20000:10000
//	                      the same, but each connection is accepted and
//	                      closed at once, as a server would
//	conns:127.0.0.1:40000:6000
//	                      6,000 established connections, both ends held,
//	                      to listeners on ports 40000 and 40001 (at most
//	                      5,000 a listener); each end is a file descriptor,
//	                      and a helper's limit is its hard RLIMIT_NOFILE
//	                      unless it holds CAP_SYS_RESOURCE
func (n *NS) Listen(t TB, specs ...string) *Listener {
	t.Helper()
	bin := helperBinary(t)
	cmd := n.Command(bin, specs...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // read only after Stop has waited for the process
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", HelperName, err)
	}
	l := &Listener{PID: cmd.Process.Pid, Specs: specs, cmd: cmd, stdin: stdin}
	t.Cleanup(l.Stop)

	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if strings.TrimSpace(line) == "ready" {
			ready <- nil
			io.Copy(io.Discard, stdout)
			return
		}
		ready <- fmt.Errorf("no ready line (read %q, %v)", line, err)
	}()
	select {
	case err = <-ready:
	case <-time.After(60 * time.Second):
		err = fmt.Errorf("not ready after 60s")
	}
	if err != nil {
		l.Stop()
		t.Fatalf("%s %s in netns %s: %v\n%s", HelperName, strings.Join(specs, " "), n.Name, err, stderr.String())
	}
	return l
}

// Stop kills the helper and waits for it; the test's cleanup calls it too.
func (l *Listener) Stop() {
	l.once.Do(func() {
		l.stdin.Close()
		_ = l.cmd.Process.Kill()
		_ = l.cmd.Wait()
	})
}

// helperBinary builds the listening helper once per test process.
func helperBinary(t TB) string { return buildOnce(t, HelperName, helperPackage) }
