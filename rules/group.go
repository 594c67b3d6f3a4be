package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "group",
		Summary: "a local group exists (or not) with its gid and members",
		Attributes: []hcl.AttributeSchema{
			{Name: "name", Required: true},
			{Name: "exists"},
			{Name: "gid"},
			{Name: "members"},
			{Name: "only_members"},
		},
		AttributeDocs: map[string]string{
			"name":         "the group's name, as in /etc/group",
			"exists":       "whether it must exist (default true)",
			"gid":          "the gid it must have",
			"members":      "users that must be in it (listed in /etc/group, or with it as primary group)",
			"only_members": "no user outside members may be in it (who is in sudo, docker, adm)",
		},
		Needs:  []string{snapshot.CollectorAccounts},
		Decode: decodeGroup,
	})
}

// groupCheck: the named group exists (or not), with gid and members.
type groupCheck struct {
	name        string
	exists      bool
	gid         *int
	members     []string
	onlyMembers bool
}

func decodeGroup(d *Decoder) Check {
	c := &groupCheck{name: d.String("name", ""), exists: d.Bool("exists", true), gid: optionalInt(d, "gid"), members: d.Strings("members"), onlyMembers: d.Bool("only_members", false)}
	if !c.exists && (c.gid != nil || len(c.members) > 0 || c.onlyMembers) {
		d.Errorf("exists", "Conflicting attributes", "exists = false cannot be combined with gid or members: an absent group has none.")
	}
	return c
}

// groupMembers lists who is in g: its listed members, then the users whose
// primary group it is.
func groupMembers(a *snapshot.Accounts, g snapshot.Group) []string {
	out := append([]string{}, g.Members...)
	for _, u := range a.Users {
		if u.GID == g.GID && !slices.Contains(out, u.Name) {
			out = append(out, u.Name)
		}
	}
	return out
}

func (c *groupCheck) Evaluate(s *snapshot.Snapshot) Result {
	a := s.Accounts
	if a == nil {
		return Errorf("the snapshot holds no accounts section")
	}
	if a.Absent != "" {
		return Skipf("does not apply to this host: %s", a.Absent)
	}
	r := Result{Expected: "group " + c.name + " exists"}
	if !c.exists {
		r.Expected = "group " + c.name + " does not exist"
	}
	if c.gid != nil {
		r.Expected += fmt.Sprintf(", gid %d", *c.gid)
	}
	if len(c.members) > 0 {
		r.Expected += ", members " + strings.Join(c.members, ", ")
		if c.onlyMembers {
			r.Expected += " only"
		}
	}
	g, ok := a.Group(c.name)
	switch {
	case !c.exists && !ok:
		r.Status, r.Observed, r.Explanation = finding.Pass, "absent", "no group "+c.name+" in /etc/group"
		return r
	case !ok:
		r.Status, r.Observed = finding.Fail, "absent"
		r.Explanation = fmt.Sprintf("no group %s in /etc/group (%d groups)", c.name, len(a.Groups))
		r.Remediation = "create the group (groupadd " + c.name + "), or fix the check's name"
		return r
	}
	members := groupMembers(a, g)
	r.Observed = fmt.Sprintf("gid %d, members %s", g.GID, strings.Join(members, ","))
	if len(members) == 0 {
		r.Observed = fmt.Sprintf("gid %d, no members", g.GID)
	}
	if !c.exists {
		r.Status, r.Explanation = finding.Fail, "group "+c.name+" exists: "+r.Observed
		r.Remediation = "groupdel " + c.name + ", if it is not meant to be here"
		return r
	}
	var fails, fixes []string
	if c.gid != nil && g.GID != *c.gid {
		fails = append(fails, fmt.Sprintf("gid is %d, not %d", g.GID, *c.gid))
		fixes = append(fixes, fmt.Sprintf("groupmod -g %d %s", *c.gid, c.name))
	}
	var missing, extra []string
	for _, m := range c.members {
		if !slices.Contains(members, m) {
			missing = append(missing, m)
		}
	}
	if c.onlyMembers {
		for _, m := range members {
			if !slices.Contains(c.members, m) {
				extra = append(extra, m)
			}
		}
	}
	if len(missing) > 0 {
		fails = append(fails, "lacks member(s) "+strings.Join(missing, ", "))
		fixes = append(fixes, "usermod -a -G "+c.name+" USER for each")
	}
	if len(extra) > 0 {
		fails = append(fails, "has member(s) outside the list: "+strings.Join(extra, ", "))
		fixes = append(fixes, "gpasswd -d USER "+c.name+" for each that should not be there")
	}
	if len(fails) > 0 {
		r.Status, r.Explanation, r.Remediation = finding.Fail, "group "+c.name+": "+strings.Join(fails, "; "), strings.Join(fixes, "; ")
		return r
	}
	r.Status, r.Explanation = finding.Pass, "group "+c.name+": "+r.Observed
	return r
}
