package rules

import (
	"fmt"
	"path"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "file",
		Summary: "a file exists and, with max_age, changed within it: a job's output is fresh",
		Attributes: []hcl.AttributeSchema{
			{Name: "path", Required: true},
			{Name: "max_age"},
		},
		AttributeDocs: map[string]string{
			"path":    "the file's path",
			"max_age": "it must have changed within this (\"8d\")",
		},
		Needs:  []string{snapshot.CollectorFiles},
		Decode: decodeFile,
	})
}

// fileCheck: path exists and was modified within maxAge (when set).
type fileCheck struct {
	path   string
	maxAge time.Duration
}

func decodeFile(d *Decoder) Check {
	c := &fileCheck{path: d.String("path", ""), maxAge: d.Duration("max_age", 0)}
	if c.path != "" && !path.IsAbs(c.path) {
		d.Errorf("path", "Invalid path", "%q is not an absolute path.", c.path)
	}
	return c
}

// Want asks the files collector for the path.
func (c *fileCheck) Want(w *snapshot.Wants) {
	if c.path != "" {
		w.Files = append(w.Files, c.path)
	}
}

func (c *fileCheck) Evaluate(s *snapshot.Snapshot) Result {
	r := Result{Expected: c.path + " exists"}
	if c.maxAge > 0 {
		r.Expected = fmt.Sprintf("%s changed within %s", c.path, formatAge(c.maxAge))
	}
	if s.Files == nil {
		return Errorf("the snapshot holds no files section")
	}
	st, ok := s.Files.File(c.path)
	switch {
	case !ok:
		return Errorf("%s was not looked at when this snapshot was taken; take it again with this policy", c.path)
	case st.Error != "":
		return Errorf("%s could not be read: %s", c.path, st.Error)
	case !st.Exists:
		r.Status, r.Observed = finding.Fail, "missing"
		r.Explanation = c.path + " does not exist"
		r.Remediation = "check the job that writes it: did it ever run, and where does it write now?"
		return r
	}
	age := s.TakenAt.Sub(*st.ModTime)
	r.Observed = fmt.Sprintf("modified %s (%s ago), %d bytes", stamp(*st.ModTime), formatAge(max(age, 0)), st.Size)
	if c.maxAge > 0 && age > c.maxAge {
		r.Status = finding.Fail
		r.Explanation = fmt.Sprintf("%s was last modified %s: %s ago, more than max_age %s", c.path, stamp(*st.ModTime), formatAge(age), formatAge(c.maxAge))
		r.Remediation = "the job that writes it has stopped or fails: check its last run and its log"
		return r
	}
	r.Status, r.Explanation = finding.Pass, c.path+" "+r.Observed
	return r
}
