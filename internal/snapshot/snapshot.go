// Package snapshot is the typed, versioned record of what a host really does:
// the contract between the collectors that write it and the rules that judge it.
package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Schema names the version of the snapshot document.
const Schema = "hostdrift/snapshot/v1"

// Snapshot is everything the collectors saw on one host at one time.
type Snapshot struct {
	Schema     string            `json:"schema"`
	Version    string            `json:"hostdrift_version"`
	TakenAt    time.Time         `json:"taken_at"`
	Root       string            `json:"root,omitempty"`
	Host       Host              `json:"host"`
	Collectors []CollectorStatus `json:"collectors"`

	Listeners *Listeners `json:"listeners,omitempty"`
	Firewall  *Firewall  `json:"firewall,omitempty"`
	DNS       *DNS       `json:"dns,omitempty"`
	Probes    *Probes    `json:"probes,omitempty"`
	Docker    *Docker    `json:"docker,omitempty"`
	Jobs      *Jobs      `json:"jobs,omitempty"`
	Files     *Files     `json:"files,omitempty"`
	Mounts    *Mounts    `json:"mounts,omitempty"`
	Processes *Processes `json:"processes,omitempty"`
	Services  *Services  `json:"services,omitempty"`
	Packages  *Packages  `json:"packages,omitempty"`
	Accounts  *Accounts  `json:"accounts,omitempty"`
	Sysctl    *Sysctl    `json:"sysctl,omitempty"`
}

// Section is one area's data; a collector returns one and the runner attaches
// it to the snapshot, so a collector that misses its deadline can never write
// into a snapshot that is already being judged.
type Section interface {
	Attach(s *Snapshot)
}

// Status is the outcome of one collector run.
type Status string

// Collector outcomes. Partial means the data is there but incomplete, and the
// reason says what could not be seen.
const (
	StatusOK      Status = "ok"
	StatusPartial Status = "partial"
	StatusError   Status = "error"
	StatusSkipped Status = "skipped"
)

// CollectorStatus records how one collector fared.
type CollectorStatus struct {
	Name       string  `json:"name"`
	Status     Status  `json:"status"`
	Reason     string  `json:"reason,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	// StartedAt is when the collector began its reading (zero in a
	// snapshot taken before it was recorded). Readings judged together,
	// such as a probe and the firewall it went through, are of one moment
	// only when neither ended before the other began.
	StartedAt time.Time `json:"started_at,omitzero"`
}

// Usable reports whether the collector's data may be judged at all.
func (c CollectorStatus) Usable() bool {
	return c.Status == StatusOK || c.Status == StatusPartial
}

// ReadBefore reports whether collector a's reading ended before collector
// b's began: the two are then of different moments, and what a saw may not
// hold with what b read. It is false when either did not run or its start
// was not recorded.
func (s *Snapshot) ReadBefore(a, b string) bool {
	ca, okA := s.Collector(a)
	cb, okB := s.Collector(b)
	if !okA || !okB || ca.StartedAt.IsZero() || cb.StartedAt.IsZero() {
		return false
	}
	ended := ca.StartedAt.Add(time.Duration(ca.DurationMS * float64(time.Millisecond)))
	return ended.Before(cb.StartedAt)
}

// Collector returns the status of the named collector, if it ran.
func (s *Snapshot) Collector(name string) (CollectorStatus, bool) {
	for _, c := range s.Collectors {
		if c.Name == name {
			return c, true
		}
	}
	return CollectorStatus{}, false
}

// ErrReport is Decode's error for a hostdrift report given where a
// snapshot is read.
var ErrReport = errors.New("a hostdrift report, not a snapshot")

// Decode reads a snapshot document and refuses one of another schema.
func Decode(r io.Reader) (*Snapshot, error) {
	dec := json.NewDecoder(r)
	var s Snapshot
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("not a hostdrift snapshot: %w", err)
	}
	if strings.HasPrefix(s.Schema, "hostdrift/report/") {
		return nil, fmt.Errorf("this is %w (schema %q): a report holds findings, not what the host does", ErrReport, s.Schema)
	}
	if s.Schema != Schema {
		return nil, fmt.Errorf("snapshot schema is %q, this hostdrift reads %q: take the snapshot again with this version", s.Schema, Schema)
	}
	return &s, nil
}
