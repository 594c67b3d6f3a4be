package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Job is one audit to run on one target.
type Job struct {
	Target Target
	// Args follow "hostdrift" on the target: check --format json ...
	Args []string
	// Stdin is the remote hostdrift's standard input (the policy), or nil.
	Stdin []byte
	// Sudo runs hostdrift with sudo -n (never a password prompt).
	Sudo bool
}

// Result is what the audit of one target gave.
type Result struct {
	Target Target
	// Binary is the hostdrift that ran there; Copied says it was this one,
	// copied to a temporary file that is removed afterwards.
	Binary string
	Copied bool
	// Stdout and Stderr are the remote hostdrift's, and Code its exit
	// status, when it ran (Err is nil).
	Stdout, Stderr []byte
	Code           int
	// Err says why hostdrift could not run there: ssh's own message, an
	// architecture that does not match, sudo refusing, a deadline.
	Err error
	// Leftover names a temporary file that could not be removed.
	Leftover string
}

// copyScript writes standard input to a new private file in the target's
// $TMPDIR (or /tmp), executable by its owner only, and prints its path.
const copyScript = `umask 077; f=$(mktemp "${TMPDIR:-/tmp}/hostdrift.XXXXXXXXXX") || exit 1; ` +
	`trap 'rm -f -- "$f"; exit 1' HUP INT TERM PIPE; ` +
	`if cat > "$f" && chmod 700 "$f"; then printf 'file\t%s\n' "$f"; else rm -f -- "$f"; exit 1; fi`

// exitMismatch is runScript's status when the copied file is not the
// binary that was sent.
const exitMismatch = 125

// runScript runs bin with args (under sudo -n with sudo). With a copied
// binary (sha not empty) it first checks the file's SHA-256 and removes the
// file afterwards, however the run ends.
func runScript(bin, sha string, sudo bool, args []string) string {
	run := Quote(bin) + " " + QuoteAll(args)
	if sudo {
		run = "sudo -n -- " + run
	}
	if sha == "" {
		return "exec " + run
	}
	f := Quote(bin)
	return `f=` + f + `; trap 'rm -f -- "$f"' EXIT; trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM; ` +
		`if [ "$(sha256sum < "$f" | cut -d ' ' -f 1)" != ` + Quote(sha) + ` ]; then ` +
		`echo "hostdrift: $f is not the binary that was copied (SHA-256 differs); not run" >&2; exit ` + fmt.Sprint(exitMismatch) + `; fi; ` +
		run + `; rc=$?; rm -f -- "$f"; exit $rc`
}

// Run audits one target: it asks what the target has, copies self there
// when it has no hostdrift of the same version, runs the job and removes
// the copy. It never returns an error: Result.Err says what went wrong.
func (c Client) Run(ctx context.Context, self Self, job Job) Result {
	res := Result{Target: job.Target}
	o, err := c.ssh(ctx, job.Target, probeScript, nil)
	if err == nil && o.code != 0 {
		err = o.err(ctx, "ssh")
	}
	if err != nil {
		res.Err = err
		return res
	}
	probe, err := ParseProbe(bytes.NewReader(o.stdout))
	if err != nil {
		res.Err = fmt.Errorf("what the host said about itself: %w", err)
		return res
	}
	choice, err := Choose(self, probe)
	if err != nil {
		res.Err = err
		return res
	}
	sha := ""
	if choice.Path == "" {
		if res.Binary, err = c.copySelf(ctx, job.Target, self); err != nil {
			res.Err = err
			return res
		}
		res.Copied, sha = true, self.SHA256
	} else {
		res.Binary = choice.Path
	}
	var stdin io.Reader
	if job.Stdin != nil {
		stdin = bytes.NewReader(job.Stdin)
	}
	o, err = c.ssh(ctx, job.Target, runScript(res.Binary, sha, job.Sudo, job.Args), stdin)
	res.Stdout, res.Stderr, res.Code = o.stdout, o.stderr, o.code
	switch {
	case err != nil:
		res.Err = err
	case o.code == exitSSH || ctx.Err() != nil:
		res.Err = o.err(ctx, "ssh")
	case o.code == exitMismatch:
		res.Err = o.err(ctx, "verify the copy")
	}
	if res.Copied && res.Err != nil {
		// The remote trap removes the file however hostdrift ends; when
		// the connection itself failed, make sure.
		res.Leftover = c.remove(job.Target, res.Binary)
	}
	return res
}

// copySelf copies self to a private temporary file on t and returns its path.
func (c Client) copySelf(ctx context.Context, t Target, self Self) (string, error) {
	f, err := os.Open(self.Path)
	if err != nil {
		return "", fmt.Errorf("read this hostdrift's own binary to copy it: %w", err)
	}
	defer f.Close()
	o, err := c.ssh(ctx, t, copyScript, f)
	if err != nil {
		return "", err
	}
	path := ""
	for _, line := range strings.Split(string(o.stdout), "\n") {
		if p, ok := strings.CutPrefix(line, "file\t"); ok {
			path = p
		}
	}
	if o.code != 0 || path == "" {
		if path != "" {
			c.remove(t, path)
		}
		return "", o.err(ctx, "copy hostdrift to a temporary file there")
	}
	return path, nil
}

// removeTimeout bounds the clean-up connection.
const removeTimeout = 30 * time.Second

// remove deletes path on t, on a fresh deadline (the run's may be over); it
// returns path if it may still be there.
func (c Client) remove(t Target, path string) string {
	ctx, cancel := context.WithTimeout(context.Background(), removeTimeout)
	defer cancel()
	o, err := c.ssh(ctx, t, "rm -f -- "+Quote(path), nil)
	if err != nil || o.code != 0 {
		return path
	}
	return ""
}
