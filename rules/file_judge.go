package rules

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// expected says in one line what the file check asks.
func (c *fileCheck) expected() string {
	if c.absent {
		return c.path + " does not exist"
	}
	var parts []string
	if c.typ != "" {
		parts = append(parts, "a "+typeWord(c.typ))
	}
	if c.target != "" {
		parts = append(parts, "linking to "+c.target)
	}
	if c.mode >= 0 {
		parts = append(parts, fmt.Sprintf("mode %04o", c.mode))
	}
	if c.owner != "" || c.group != "" {
		parts = append(parts, "owned by "+fileOwnerText(c.owner, c.group))
	}
	if c.size >= 0 {
		parts = append(parts, fmt.Sprintf("%d bytes", c.size))
	}
	if c.sha256 != "" {
		parts = append(parts, "sha256 "+c.sha256)
	}
	for _, p := range c.contains {
		parts = append(parts, "a line matching /"+p+"/")
	}
	for _, p := range c.notContains {
		parts = append(parts, "no line matching /"+p+"/")
	}
	if c.maxAge > 0 {
		parts = append(parts, "changed within "+formatAge(c.maxAge))
	}
	if len(parts) == 0 {
		return c.path + " exists"
	}
	return c.path + " exists: " + strings.Join(parts, ", ")
}

func typeWord(t string) string {
	switch t {
	case snapshot.FileDir:
		return "folder"
	case "symlink":
		return "symbolic link"
	case snapshot.FileOther:
		return "special file (FIFO, socket or device)"
	}
	return "regular file"
}

func fileOwnerText(owner, group string) string {
	switch {
	case group == "":
		return owner
	case owner == "":
		return ":" + group
	}
	return owner + ":" + group
}

// pathType is what the path itself is: a link is a symlink whatever it
// leads to.
func pathType(st snapshot.FileState) string {
	if st.Symlink {
		return "symlink"
	}
	return st.Type
}

// observed adds to the observation what the check judges beyond age and size.
func (c *fileCheck) observed(st snapshot.FileState) string {
	var parts []string
	if c.typ != "" || c.target != "" {
		parts = append(parts, typeWord(pathType(st)))
		if st.Symlink {
			parts[len(parts)-1] += " to " + st.Target
		}
	}
	if c.mode >= 0 {
		parts = append(parts, fmt.Sprintf("mode %04o", st.Mode))
	}
	if c.owner != "" || c.group != "" {
		parts = append(parts, "owner "+idName(st.Owner, st.UID)+":"+idName(st.Group, st.GID))
	}
	if c.sha256 != "" {
		parts = append(parts, "sha256 "+st.SHA256)
	}
	return strings.Join(parts, ", ")
}

func idName(name string, id uint32) string {
	if name == "" {
		return strconv.FormatUint(uint64(id), 10)
	}
	return name
}

// idIs reports whether want (a name or a number) names the id.
func idIs(want, name string, id uint32) bool {
	if n, err := strconv.ParseUint(want, 10, 32); err == nil {
		return uint32(n) == id
	}
	return want == name
}

// judgeMeta compares what the file is and who owns it.
func (c *fileCheck) judgeMeta(st snapshot.FileState, why, fix *[]string) {
	if c.typ != "" && pathType(st) != c.typ {
		*why = append(*why, fmt.Sprintf("%s is a %s, not a %s", c.path, typeWord(pathType(st)), typeWord(c.typ)))
		*fix = append(*fix, fmt.Sprintf("replace %s with the %s the policy expects", c.path, typeWord(c.typ)))
	}
	if c.target != "" && (!st.Symlink || st.Target != c.target) {
		if st.Symlink {
			*why = append(*why, fmt.Sprintf("%s links to %s, not %s", c.path, st.Target, c.target))
		} else {
			*why = append(*why, fmt.Sprintf("%s is not a symbolic link (the policy expects one to %s)", c.path, c.target))
		}
		*fix = append(*fix, fmt.Sprintf("ln -sfn %s %s", c.target, c.path))
	}
	if c.mode >= 0 && int64(st.Mode) != c.mode {
		*why = append(*why, fmt.Sprintf("%s has mode %04o, not %04o", c.path, st.Mode, c.mode))
		*fix = append(*fix, fmt.Sprintf("chmod %04o %s", c.mode, c.path))
	}
	badOwner := c.owner != "" && !idIs(c.owner, st.Owner, st.UID)
	badGroup := c.group != "" && !idIs(c.group, st.Group, st.GID)
	if badOwner || badGroup {
		*why = append(*why, fmt.Sprintf("%s is owned by %s:%s, not %s", c.path, idName(st.Owner, st.UID), idName(st.Group, st.GID), fileOwnerText(c.owner, c.group)))
		o, g := c.owner, c.group
		if !badOwner {
			o = ""
		}
		if !badGroup {
			g = ""
		}
		*fix = append(*fix, fmt.Sprintf("chown %s %s", fileOwnerText(o, g), c.path))
	}
	if c.size >= 0 && st.Size != c.size {
		*why = append(*why, fmt.Sprintf("%s is %d bytes, not %d", c.path, st.Size, c.size))
		*fix = append(*fix, "compare "+c.path+" with the copy it is deployed from")
	}
}

// judgeContent compares the digest and the lines; a non-empty return is
// an error: the content the check needs was not recorded.
func (c *fileCheck) judgeContent(st snapshot.FileState, why, fix *[]string) string {
	if c.sha256 != "" {
		switch {
		case st.SHA256 == "":
			return fmt.Sprintf("the digest of %s was not recorded when this snapshot was taken; take it again with this policy", c.path)
		case st.SHA256 != c.sha256:
			*why = append(*why, fmt.Sprintf("the content of %s changed: sha256 %s, not %s", c.path, st.SHA256, c.sha256))
			*fix = append(*fix, "compare "+c.path+" with the copy it is deployed from, and redeploy it or update the policy's digest")
		}
	}
	for _, p := range c.contains {
		m, ok := st.Match(p)
		if !ok {
			return fmt.Sprintf("the lines of %s were not matched against /%s/ when this snapshot was taken; take it again with this policy", c.path, p)
		}
		if m.Count == 0 {
			*why = append(*why, fmt.Sprintf("no line of %s matches /%s/", c.path, p))
			*fix = append(*fix, fmt.Sprintf("add the setting to %s (a line matching /%s/)", c.path, p))
		}
	}
	for _, p := range c.notContains {
		m, ok := st.Match(p)
		if !ok {
			return fmt.Sprintf("the lines of %s were not matched against /%s/ when this snapshot was taken; take it again with this policy", c.path, p)
		}
		if m.Count > 0 {
			*why = append(*why, fmt.Sprintf("%s of %s %s /%s/%s", lineList(m), c.path, plural(m.Count, "matches", "match"), p, quoteLines(m)))
			*fix = append(*fix, fmt.Sprintf("remove or change %s of %s", lineList(m), c.path))
		}
	}
	return ""
}

// lineList names the matching lines: "line 12", "lines 3, 9 and 4 more".
func lineList(m snapshot.FileMatch) string {
	nums := make([]string, len(m.Lines))
	for i, n := range m.Lines {
		nums[i] = strconv.Itoa(n)
	}
	s := "line " + strings.Join(nums, ", ")
	if m.Count > 1 {
		s = "lines " + strings.Join(nums, ", ")
	}
	if more := m.Count - len(m.Lines); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

// quoteLines quotes the matching lines when the policy allowed it.
func quoteLines(m snapshot.FileMatch) string {
	if len(m.Text) == 0 {
		return ""
	}
	q := make([]string, len(m.Text))
	for i, t := range m.Text {
		q[i] = strconv.Quote(t)
	}
	return ": " + strings.Join(q, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
