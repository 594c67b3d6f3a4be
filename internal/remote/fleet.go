package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Exit codes a host's record carries: the remote hostdrift's own, and
// Incomplete for a host that could not be audited.
const (
	ExitOK         = 0
	ExitDrift      = 1
	ExitIncomplete = 3
)

// Allowance is what a host's deadline adds to the run's --timeout: the
// connections, the copy of the binary and the clean-up.
const Allowance = time.Minute

// Record is one host's line of check --ssh --format json: a JSON lines
// stream, one object per host in the order the hosts were named
// (internal/schema's remote.schema.json).
type Record struct {
	// Host is the target as named ([USER@]HOST[:PORT]).
	Host string `json:"host"`
	// ExitCode is the host's: 0, 1 (drift) or 3 (incomplete, or not audited).
	ExitCode int `json:"exit_code"`
	// Binary is the hostdrift that ran there; Copied says it was this
	// one, copied for the run and removed after it.
	Binary string `json:"binary,omitempty"`
	Copied bool   `json:"copied"`
	// Leftover is a temporary copy that could not be removed.
	Leftover string `json:"leftover,omitempty"`
	// Error says why the host was not audited.
	Error string `json:"error,omitempty"`
	// Report is the host's JSON report (hostdrift/report/v1).
	Report json.RawMessage `json:"report,omitempty"`
}

// SelfBinary describes the running hostdrift, the one copied to hosts;
// version is its version line.
func SelfBinary(version string) (Self, error) {
	path, err := os.Executable()
	if err != nil {
		return Self{}, fmt.Errorf("find this hostdrift's own binary to copy it: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return Self{}, fmt.Errorf("read this hostdrift's own binary to copy it: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Self{}, fmt.Errorf("read %s: %w", path, err)
	}
	return Self{Path: path, Version: version, SHA256: hex.EncodeToString(h.Sum(nil)), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}, nil
}

// RunAll runs the job on every target, parallel at a time, each within
// timeout plus Allowance (no deadline when timeout is 0), and returns the
// results in the targets' order. Cancelling ctx stops them all.
func (c Client) RunAll(ctx context.Context, self Self, targets []Target, job Job, parallel int, timeout time.Duration) []Result {
	results := make([]Result, len(targets))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			hctx, cancel := ctx, context.CancelFunc(func() {})
			if timeout > 0 {
				limit := timeout + Allowance
				hctx, cancel = context.WithTimeoutCause(ctx, limit, fmt.Errorf("the host's deadline of %s (--timeout plus %s for ssh) expired", limit, Allowance))
			}
			defer cancel()
			j := job
			j.Target = t
			results[i] = c.Run(hctx, self, j)
		}()
	}
	wg.Wait()
	return results
}

// Judge turns one host's result into its record: its report and exit
// code, or why hostdrift could not audit it (exit 3), with what to do when
// the cause is known (sudo wanting a password, a noexec temporary folder).
func Judge(r Result, sudo bool) Record {
	rec := Record{Host: r.Target.String(), Binary: r.Binary, Copied: r.Copied, Leftover: r.Leftover, ExitCode: ExitIncomplete}
	if r.Err != nil {
		rec.Error = r.Err.Error()
		return rec
	}
	var doc bytes.Buffer
	var probe struct {
		Schema string `json:"schema"`
	}
	if json.Unmarshal(r.Stdout, &probe) != nil || probe.Schema == "" || json.Compact(&doc, r.Stdout) != nil {
		msg := strings.TrimSpace(string(r.Stderr))
		if msg == "" {
			msg = fmt.Sprintf("hostdrift there exited %d without a report", r.Code)
		}
		switch {
		case sudo && strings.HasPrefix(msg, "sudo:") && r.Copied:
			msg += " (--sudo runs sudo -n " + r.Binary + ", a temporary copy: sudo must let the user run any command without a password; or install hostdrift there and allow its check)"
		case sudo && strings.HasPrefix(msg, "sudo:"):
			msg += " (--sudo runs sudo -n " + r.Binary + ": sudo must let the user run it without a password)"
		case r.Code == 126 && r.Copied:
			msg += " (is the host's temporary folder mounted noexec? install hostdrift there instead)"
		}
		rec.Error = msg
		return rec
	}
	rec.Report = doc.Bytes()
	switch r.Code {
	case ExitOK, ExitDrift, ExitIncomplete:
		rec.ExitCode = r.Code
	}
	return rec
}

// WriteJSONLines writes the records, one JSON object a line.
func WriteJSONLines(w io.Writer, records []Record) error {
	enc := json.NewEncoder(w)
	for _, r := range records {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes the records as one JSON document: an array of the
// objects WriteJSONLines writes one per line, in the same order.
func WriteJSON(w io.Writer, records []Record) error {
	if records == nil {
		records = []Record{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(records)
}
