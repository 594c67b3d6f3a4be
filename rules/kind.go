// Package rules holds the check kinds and judges a snapshot against a policy.
// Evaluation is a pure function of the snapshot, the policy and the time: it
// never touches the host.
package rules

import (
	"fmt"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Kind is one check kind: its name (the HCL block type), its attributes, the
// collectors whose data it judges, and how a block becomes a Check. Each kind
// lives in its own file and registers itself in init.
type Kind struct {
	Name    string
	Summary string
	// Attributes are the kind's own; description, severity and tags are
	// common to every kind and handled by the engine.
	Attributes []hcl.AttributeSchema
	// AttributeDocs says in a few words what each attribute of Attributes
	// means and its default: the kinds reference in the README and the man
	// page is generated from it (go test ./rules/kinddoc -update).
	AttributeDocs map[string]string
	// Needs names the collectors whose data the check reads. When one of them
	// failed or did not run, the check is an error and never evaluated.
	Needs []string
	// Decode turns a block into a check. It reports problems through the
	// decoder, which anchors them to the offending attribute.
	Decode func(d *Decoder) Check
}

// Check is one decoded check, ready to judge snapshots.
type Check interface {
	Evaluate(s *snapshot.Snapshot) Result
}

// Wanter is implemented by checks that ask the collectors to look at
// something they would not read on their own, such as a DNS name.
type Wanter interface {
	Want(w *snapshot.Wants)
}

// Needer is implemented by checks that read more collectors than their kind
// always does (an egress check that confirms with a real connection also
// needs the probes).
type Needer interface {
	Needs() []string
}

// AbsenceJudge is implemented by checks that name something which must
// exist (a Docker network called "app"): when a collector they need was
// skipped because its area is absent from the host, they judge that absence
// (usually a fail) instead of being skipped as not applying.
type AbsenceJudge interface {
	Absent(collector, reason string) Result
}

// needs lists the collectors one compiled check reads.
func (c *Compiled) needs() []string {
	n := c.Kind.Needs
	if nd, ok := c.Check.(Needer); ok {
		n = append(append([]string{}, n...), nd.Needs()...)
	}
	return n
}

// Result is a check's verdict before the engine adds identity, severity,
// source and waivers.
type Result struct {
	Status      finding.Status
	Expected    string
	Observed    string
	Explanation string
	Remediation string
}

// Errorf returns an error result: the check could not be evaluated.
func Errorf(format string, args ...any) Result {
	return Result{Status: finding.Error, Explanation: fmt.Sprintf(format, args...)}
}

// Skipf returns a skip result: the check does not apply to this host, for
// the reason given (no FQDN, no Docker engine, no cron daemon installed).
func Skipf(format string, args ...any) Result {
	return Result{Status: finding.Skip, Explanation: fmt.Sprintf(format, args...)}
}

// reservedBlocks are the block types that are not check kinds.
var reservedBlocks = map[string]bool{"variable": true, "waiver": true, "disable": true, "ignore": true, "drift": true, "hostdrift": true}

var (
	kindsMu sync.Mutex
	kinds   = map[string]*Kind{}
	// schemas holds each kind's block schema, the common attributes and
	// its own, built once when it registers rather than for every block.
	schemas = map[string]*hcl.BodySchema{}
)

// kindSchema returns the block schema of the registered kind named name.
// It is shared: never change it.
func kindSchema(name string) *hcl.BodySchema {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	return schemas[name]
}

// Register adds a check kind; kinds call it from init.
func Register(k *Kind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[k.Name]; dup || reservedBlocks[k.Name] {
		panic("rules: kind registered twice or reserved: " + k.Name)
	}
	kinds[k.Name] = k
	schemas[k.Name] = &hcl.BodySchema{Attributes: append(append([]hcl.AttributeSchema{}, commonAttributes...), k.Attributes...)}
}

// Kinds lists the registered kinds, sorted by name.
func Kinds() []*Kind {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	out := make([]*Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func kindNamed(name string) *Kind {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	return kinds[name]
}

func kindNames() []string {
	var names []string
	for _, k := range Kinds() {
		names = append(names, k.Name)
	}
	return names
}
