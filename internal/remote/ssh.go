package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// SSHPath is the ssh client hostdrift runs: the system's own, so that the
// operator's ~/.ssh/config, agent, ProxyJump and known_hosts apply.
const SSHPath = "/usr/bin/ssh"

// DefaultConnectTimeout bounds ssh's TCP connection and handshake to one host
// unless the operator's -o ConnectTimeout says otherwise.
const DefaultConnectTimeout = 10 * time.Second

// Client says how to run ssh.
type Client struct {
	// Config is passed as ssh -F: read this file instead of ~/.ssh/config.
	Config string
	// Options are -o KEY=VALUE options, before hostdrift's own defaults (ssh
	// takes the first value it reads for each).
	Options []string
	// ConnectTimeout is the default ConnectTimeout.
	ConnectTimeout time.Duration
}

// CheckOption validates one --ssh-option.
func CheckOption(o string) error {
	k, _, ok := strings.Cut(o, "=")
	if !ok || k == "" || strings.ContainsAny(k, " \t") {
		return fmt.Errorf("--ssh-option wants KEY=VALUE as ssh -o takes it (e.g. ConnectTimeout=5), not %q", o)
	}
	if strings.EqualFold(k, "BatchMode") {
		return fmt.Errorf("--ssh-option %s: hostdrift always runs ssh with BatchMode=yes (a password prompt would wait for ever); use a key or an agent", k)
	}
	return nil
}

// args is ssh's command line for command on t.
func (c Client) args(t Target, command string) []string {
	// BatchMode first: no prompt, ever. -T: no terminal. -a -x and
	// ClearAllForwardings: the audited host gets no agent, X11 or port
	// forwarding from the operator's defaults.
	a := []string{"-T", "-a", "-x", "-o", "BatchMode=yes"}
	if c.Config != "" {
		a = append(a, "-F", c.Config)
	}
	for _, o := range c.Options {
		a = append(a, "-o", o)
	}
	timeout := c.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	a = append(a, "-o", fmt.Sprintf("ConnectTimeout=%d", int((timeout+time.Second-1)/time.Second)),
		"-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3", "-o", "ClearAllForwardings=yes")
	if t.User != "" {
		a = append(a, "-l", t.User)
	}
	if t.Port != 0 {
		a = append(a, "-p", fmt.Sprint(t.Port))
	}
	// The command goes through the login shell of the remote user; sh -c
	// makes it a POSIX shell whatever that login shell is.
	return append(a, "--", t.Host, "sh -c "+Quote(command))
}

// exitSSH is ssh's own exit status when it fails (cannot connect,
// authenticate, or the connection drops).
const exitSSH = 255

// outcome is what one ssh run gave.
type outcome struct {
	stdout, stderr []byte
	code           int // the remote command's exit status, or 255
}

// sshError is the host-level error for a failed ssh run: ssh's own message.
func (o outcome) err(ctx context.Context, what string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: stopped: %v", what, context.Cause(ctx))
	}
	msg := strings.TrimSpace(string(o.stderr))
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", o.code)
	}
	return fmt.Errorf("%s: %s", what, msg)
}

// ssh runs command on t with stdin, until ctx ends.
func (c Client) ssh(ctx context.Context, t Target, command string, stdin io.Reader) (outcome, error) {
	cmd := exec.CommandContext(ctx, SSHPath, c.args(t, command)...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	if cmd.Stdin == nil {
		cmd.Stdin = strings.NewReader("")
	}
	// ssh ends its session (and the remote command sees its input close)
	// on SIGTERM; SIGKILL follows if it does not.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	o := outcome{stdout: out.Bytes(), stderr: errb.Bytes()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		o.code = ee.ExitCode()
		if o.code < 0 { // killed
			o.code = exitSSH
		}
	case errors.Is(err, exec.ErrWaitDelay):
	case errors.Is(err, os.ErrNotExist):
		return o, fmt.Errorf("%s not found: hostdrift --ssh runs the system's ssh client (Debian: apt-get install openssh-client)", SSHPath)
	case err != nil:
		return o, fmt.Errorf("run %s: %w", SSHPath, err)
	}
	return o, nil
}
