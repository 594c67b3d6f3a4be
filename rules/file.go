package rules

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "file",
		Summary: "a file exists (or not) with a type, mode, owner, digest and content, and, with max_age, changed within it",
		Attributes: []hcl.AttributeSchema{
			{Name: "path", Required: true},
			{Name: "exists"},
			{Name: "type"},
			{Name: "target"},
			{Name: "mode"},
			{Name: "owner"},
			{Name: "group"},
			{Name: "size"},
			{Name: "sha256"},
			{Name: "contains"},
			{Name: "not_contains"},
			{Name: "secret"},
			{Name: "max_age"},
		},
		AttributeDocs: map[string]string{
			"path":         "the file's path",
			"exists":       "false: the path must not exist (default true)",
			"type":         "what the path itself is: \"file\", \"dir\" or \"symlink\"",
			"target":       "a symbolic link's target, as written in the link",
			"mode":         "permission bits in octal, as chmod takes them (\"0600\")",
			"owner":        "owning user, by name or uid",
			"group":        "owning group, by name or gid",
			"size":         "size in bytes",
			"sha256":       "hex SHA-256 digest of the content",
			"contains":     "regular expressions (RE2), one or a list: each must match some line (files up to 16 MB)",
			"not_contains": "regular expressions (RE2), one or a list: none may match any line",
			"secret":       "false: findings quote the matching lines; by default only their numbers are recorded",
			"max_age":      "it must have changed within this (\"8d\")",
		},
		Needs:  []string{snapshot.CollectorFiles},
		Decode: decodeFile,
	})
}

// fileCheck: path exists (or not) and has the attributes set.
type fileCheck struct {
	path        string
	absent      bool
	typ         string
	target      string
	mode        int64 // -1 when not set
	owner       string
	group       string
	size        int64 // -1 when not set
	sha256      string
	contains    []string
	notContains []string
	reveal      bool
	maxAge      time.Duration
}

func decodeFile(d *Decoder) Check {
	c := &fileCheck{path: d.String("path", ""), maxAge: d.Duration("max_age", 0), mode: -1, size: -1}
	if c.path != "" && !path.IsAbs(c.path) {
		d.Errorf("path", "Invalid path", "%q is not an absolute path.", c.path)
	}
	c.absent = !d.Bool("exists", true)
	if d.Has("type") {
		c.typ = d.OneOf("type", "", snapshot.FileRegular, snapshot.FileDir, "symlink")
	}
	c.target = d.String("target", "")
	if s := d.String("mode", ""); s != "" {
		m, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
		if err != nil || m > 0o7777 {
			d.Errorf("mode", "Invalid mode", "%q is not a file mode; write it in octal, as chmod takes it (\"0644\").", s)
		} else {
			c.mode = int64(m)
		}
	}
	c.owner, c.group = d.String("owner", ""), d.String("group", "")
	if d.Has("size") {
		c.size = int64(d.Int("size", -1, 0, 1<<62))
	}
	if s := d.String("sha256", ""); s != "" {
		c.sha256 = strings.ToLower(s)
		if ok, _ := regexp.MatchString(`^[0-9a-f]{64}$`, c.sha256); !ok {
			d.Errorf("sha256", "Invalid digest", "%q is not a SHA-256 digest (64 hex digits, as sha256sum prints it).", s)
		}
	}
	for _, attr := range []string{"contains", "not_contains"} {
		pats := d.Strings(attr)
		for _, p := range pats {
			if _, err := regexp.Compile(p); err != nil {
				d.Errorf(attr, "Invalid regular expression", "%q: %s.", p, err)
			}
		}
		if attr == "contains" {
			c.contains = pats
		} else {
			c.notContains = pats
		}
	}
	c.reveal = !d.Bool("secret", true)
	if c.absent && (c.typ != "" || c.target != "" || c.mode >= 0 || c.owner != "" || c.group != "" || c.size >= 0 ||
		c.sha256 != "" || len(c.contains) > 0 || len(c.notContains) > 0 || c.maxAge > 0) {
		d.Errorf("exists", "Contradictory file check", "exists = false says %s must not exist; the other attributes describe it existing. Keep one.", c.path)
	}
	return c
}

// Want asks the files collector for the path, and for its content when the
// check judges it.
func (c *fileCheck) Want(w *snapshot.Wants) {
	if c.path == "" {
		return
	}
	w.Files = append(w.Files, c.path)
	if c.sha256 != "" || len(c.contains) > 0 || len(c.notContains) > 0 {
		w.FileContent = append(w.FileContent, snapshot.FileWant{Path: c.path, SHA256: c.sha256 != "",
			Patterns: append(append([]string{}, c.contains...), c.notContains...), Reveal: c.reveal})
	}
}

func (c *fileCheck) Evaluate(s *snapshot.Snapshot) Result {
	r := Result{Expected: c.expected()}
	if s.Files == nil {
		return Errorf("the snapshot holds no files section")
	}
	st, ok := s.Files.File(c.path)
	switch {
	case !ok:
		return Errorf("%s was not looked at when this snapshot was taken; take it again with this policy", c.path)
	case st.Error != "":
		return Errorf("%s could not be read: %s", c.path, st.Error)
	case c.absent && (st.Exists || st.Symlink):
		r.Status, r.Observed = finding.Fail, "present"
		r.Explanation = c.path + " exists, and the policy says it must not"
		if st.Symlink {
			r.Explanation = fmt.Sprintf("%s exists (a symbolic link to %s), and the policy says it must not", c.path, st.Target)
		}
		r.Remediation = "remove " + c.path + ", or what keeps creating it"
		return r
	case c.absent:
		r.Status, r.Observed, r.Explanation = finding.Pass, "missing", c.path+" does not exist"
		return r
	case !st.Exists && st.Symlink:
		r.Status, r.Observed = finding.Fail, "dangling symbolic link to "+st.Target
		r.Explanation = fmt.Sprintf("%s is a symbolic link to %s, which does not exist", c.path, st.Target)
		r.Remediation = "restore " + st.Target + " or point the link at what replaced it"
		return r
	case !st.Exists:
		r.Status, r.Observed = finding.Fail, "missing"
		r.Explanation = c.path + " does not exist"
		r.Remediation = "check the job that writes it: did it ever run, and where does it write now?"
		if c.maxAge == 0 {
			r.Remediation = "create " + c.path + " (or fix what should have created it)"
		}
		return r
	}
	if st.ContentError != "" && c.readsContent() {
		return Errorf("the content of %s could not be read: %s", c.path, st.ContentError)
	}
	age := s.TakenAt.Sub(*st.ModTime)
	r.Observed = fmt.Sprintf("modified %s (%s ago), %d bytes", stamp(*st.ModTime), formatAge(max(age, 0)), st.Size)
	if extra := c.observed(st); extra != "" {
		r.Observed += ", " + extra
	}
	var why, fix []string
	c.judgeMeta(st, &why, &fix)
	if err := c.judgeContent(st, &why, &fix); err != "" {
		return Errorf("%s", err)
	}
	if c.maxAge > 0 && age > c.maxAge {
		why = append(why, fmt.Sprintf("%s was last modified %s: %s ago, more than max_age %s", c.path, stamp(*st.ModTime), formatAge(age), formatAge(c.maxAge)))
		fix = append(fix, "the job that writes it has stopped or fails: check its last run and its log")
	}
	if len(why) > 0 {
		r.Status, r.Explanation, r.Remediation = finding.Fail, strings.Join(why, "; "), strings.Join(fix, "; ")
		return r
	}
	r.Status, r.Explanation = finding.Pass, c.path+" "+r.Observed
	return r
}

func (c *fileCheck) readsContent() bool {
	return c.sha256 != "" || len(c.contains) > 0 || len(c.notContains) > 0
}
