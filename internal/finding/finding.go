// Package finding is the verdict on one check: the type that rules produce and
// every report renders.
package finding

import "fmt"

// Status is the outcome of one check.
type Status string

// Check outcomes. Error means the check could not be evaluated (its collector
// failed, or the evidence it needs is missing): hostdrift is blind there, and
// it is never counted as a pass. Skip means the check does not apply to this
// host (no FQDN to resolve, no Docker engine, no cron): its explanation says
// why; it is counted apart, never as a pass, and does not make a run
// incomplete.
const (
	Pass   Status = "pass"
	Fail   Status = "fail"
	Error  Status = "error"
	Waived Status = "waived"
	Skip   Status = "skip"
)

// Severity says how much a fail matters.
type Severity string

// Severities, from least to most urgent.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Severities lists the valid severities in order.
var Severities = []Severity{Info, Warning, Critical}

// Finding is the verdict on one check.
type Finding struct {
	Check       string   `json:"check"` // kind.name
	Kind        string   `json:"kind"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Status      Status   `json:"status"`
	Severity    Severity `json:"severity"`
	Tags        []string `json:"tags,omitempty"`
	Expected    string   `json:"expected"`
	Observed    string   `json:"observed"`
	Explanation string   `json:"explanation"`
	Remediation string   `json:"remediation,omitempty"`
	Waiver      *Waiver  `json:"waiver,omitempty"`
	Source      Source   `json:"source"`
	// Attempts is how many times the check was judged, when check was asked
	// to retry (--retry-timeout): 1 when the first reading decided it.
	Attempts int `json:"attempts,omitempty"`
}

// Waiver is the waiver that applied to a finding, or that expired.
type Waiver struct {
	Reason  string `json:"reason"`
	Expires string `json:"expires"`
	Expired bool   `json:"expired"`
	Source  Source `json:"source"`
}

// Source is where in a policy file something was declared.
type Source struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

func (s Source) String() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// Summary counts findings by status.
type Summary struct {
	Total  int `json:"total"`
	Pass   int `json:"pass"`
	Fail   int `json:"fail"`
	Error  int `json:"error"`
	Waived int `json:"waived"`
	Skip   int `json:"skip"`
}

// Summarize counts the findings by status.
func Summarize(fs []Finding) Summary {
	s := Summary{Total: len(fs)}
	for _, f := range fs {
		switch f.Status {
		case Pass:
			s.Pass++
		case Fail:
			s.Fail++
		case Error:
			s.Error++
		case Waived:
			s.Waived++
		case Skip:
			s.Skip++
		}
	}
	return s
}
