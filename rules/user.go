package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "user",
		Summary: "a local account exists (or not) with its uid, gid, home, shell, groups and locked password; or it alone has its uid",
		Attributes: []hcl.AttributeSchema{
			{Name: "name", Required: true},
			{Name: "exists"},
			{Name: "uid"},
			{Name: "gid"},
			{Name: "home"},
			{Name: "shell"},
			{Name: "groups"},
			{Name: "locked"},
			{Name: "unique_uid"},
		},
		AttributeDocs: map[string]string{
			"name":       "the account's name, as in /etc/passwd",
			"exists":     "whether it must exist (default true)",
			"uid":        "the uid it must have",
			"gid":        "the primary gid it must have",
			"home":       "its home folder",
			"shell":      "its login shell (\"/usr/sbin/nologin\")",
			"groups":     "groups it must belong to (primary or supplementary, from /etc/group)",
			"locked":     "whether its password must be locked in /etc/shadow (\"!\" or \"*\": no password logs in)",
			"unique_uid": "no other account may have its uid (root alone at uid 0)",
		},
		Needs:  []string{snapshot.CollectorAccounts},
		Decode: decodeUser,
	})
}

// userCheck: the named account exists (or not) and has each given
// attribute.
type userCheck struct {
	name            string
	exists          bool
	uid, gid        *int
	home, shell     *string
	groups          []string
	locked          *bool
	uniqueUID       bool
	attributesGiven bool
}

// optionalInt reads a whole-number attribute judged only when set.
func optionalInt(d *Decoder, name string) *int {
	if !d.Has(name) {
		return nil
	}
	n := d.Int(name, 0, 0, 1<<32-1)
	return &n
}

// optionalString reads a string attribute judged only when set.
func optionalString(d *Decoder, name string) *string {
	if !d.Has(name) {
		return nil
	}
	s := d.String(name, "")
	return &s
}

func decodeUser(d *Decoder) Check {
	c := &userCheck{name: d.String("name", ""), exists: d.Bool("exists", true),
		uid: optionalInt(d, "uid"), gid: optionalInt(d, "gid"), home: optionalString(d, "home"), shell: optionalString(d, "shell"),
		groups: d.Strings("groups"), locked: optionalBool(d, "locked"), uniqueUID: d.Bool("unique_uid", false)}
	c.attributesGiven = c.uid != nil || c.gid != nil || c.home != nil || c.shell != nil || len(c.groups) > 0 || c.locked != nil || c.uniqueUID
	if !c.exists && c.attributesGiven {
		d.Errorf("exists", "Conflicting attributes", "exists = false cannot be combined with other attributes: an absent account has none.")
	}
	return c
}

func (c *userCheck) expectation() string {
	if !c.exists {
		return "user " + c.name + " does not exist"
	}
	var parts []string
	if c.uid != nil {
		parts = append(parts, "uid "+strconv.Itoa(*c.uid))
	}
	if c.gid != nil {
		parts = append(parts, "gid "+strconv.Itoa(*c.gid))
	}
	if c.home != nil {
		parts = append(parts, "home "+*c.home)
	}
	if c.shell != nil {
		parts = append(parts, "shell "+*c.shell)
	}
	if len(c.groups) > 0 {
		parts = append(parts, "in groups "+strings.Join(c.groups, ", "))
	}
	if c.locked != nil {
		parts = append(parts, map[bool]string{true: "password locked", false: "password not locked"}[*c.locked])
	}
	if c.uniqueUID {
		parts = append(parts, "no other account with its uid")
	}
	e := "user " + c.name + " exists"
	if len(parts) > 0 {
		e += ": " + strings.Join(parts, ", ")
	}
	return e
}

// describeUser renders an account as passwd and group say it.
func describeUser(u snapshot.User) string {
	s := fmt.Sprintf("uid %d gid %d", u.UID, u.GID)
	if u.Group != "" {
		s += " (" + u.Group + ")"
	}
	s += ", home " + u.Home + ", shell " + u.Shell
	if len(u.Groups) > 0 {
		s += ", groups " + strings.Join(u.Groups, ",")
	}
	if u.Locked != nil {
		s += map[bool]string{true: ", password locked", false: ", password not locked"}[*u.Locked]
	}
	return s
}

func (c *userCheck) Evaluate(s *snapshot.Snapshot) Result {
	a := s.Accounts
	if a == nil {
		return Errorf("the snapshot holds no accounts section")
	}
	if a.Absent != "" {
		return Skipf("does not apply to this host: %s", a.Absent)
	}
	r := Result{Expected: c.expectation()}
	u, ok := a.User(c.name)
	if !c.exists {
		if !ok {
			r.Status, r.Observed, r.Explanation = finding.Pass, "absent", "no user "+c.name+" in /etc/passwd"
			return r
		}
		r.Status, r.Observed = finding.Fail, describeUser(u)
		r.Explanation = "user " + c.name + " exists: " + r.Observed
		r.Remediation = "remove the account if it is not meant to be here: userdel " + c.name
		return r
	}
	if !ok {
		r.Status, r.Observed = finding.Fail, "absent"
		r.Explanation = fmt.Sprintf("no user %s in /etc/passwd (%d accounts)", c.name, len(a.Users))
		r.Remediation = "create the account (useradd), or fix the check's name"
		return r
	}
	r.Observed = describeUser(u)
	var fails, fixes []string
	if c.uid != nil && u.UID != *c.uid {
		fails = append(fails, fmt.Sprintf("uid is %d, not %d", u.UID, *c.uid))
		fixes = append(fixes, fmt.Sprintf("usermod -u %d %s", *c.uid, c.name))
	}
	if c.gid != nil && u.GID != *c.gid {
		fails = append(fails, fmt.Sprintf("primary gid is %d, not %d", u.GID, *c.gid))
		fixes = append(fixes, fmt.Sprintf("usermod -g %d %s", *c.gid, c.name))
	}
	if c.home != nil && u.Home != *c.home {
		fails = append(fails, fmt.Sprintf("home is %s, not %s", u.Home, *c.home))
		fixes = append(fixes, fmt.Sprintf("usermod -d %s %s", *c.home, c.name))
	}
	if c.shell != nil && u.Shell != *c.shell {
		fails = append(fails, fmt.Sprintf("shell is %s, not %s", u.Shell, *c.shell))
		fixes = append(fixes, fmt.Sprintf("usermod -s %s %s", *c.shell, c.name))
	}
	var missing []string
	for _, g := range c.groups {
		if g != u.Group && !slices.Contains(u.Groups, g) {
			missing = append(missing, g)
		}
	}
	if len(missing) > 0 {
		fails = append(fails, "not in group(s) "+strings.Join(missing, ", "))
		fixes = append(fixes, fmt.Sprintf("usermod -a -G %s %s", strings.Join(missing, ","), c.name))
	}
	if c.locked != nil {
		switch {
		case u.Locked == nil && a.ShadowError != "":
			return Errorf("user %s: whether its password is locked is unknown: %s (reading /etc/shadow needs root)", c.name, a.ShadowError)
		case u.Locked == nil:
			fails = append(fails, "it has no line in /etc/shadow")
			fixes = append(fixes, "pwck lists accounts missing from /etc/shadow")
		case *u.Locked != *c.locked && *c.locked:
			fails = append(fails, "its password is not locked")
			fixes = append(fixes, "passwd -l "+c.name)
		case *u.Locked != *c.locked:
			fails = append(fails, "its password is locked")
			fixes = append(fixes, "set a password (passwd "+c.name+") if it is meant to log in with one")
		}
	}
	if c.uniqueUID {
		var others []string
		for _, o := range a.Users {
			if o.UID == u.UID && o.Name != u.Name {
				others = append(others, o.Name)
			}
		}
		if len(others) > 0 {
			fails = append(fails, fmt.Sprintf("other account(s) with uid %d: %s", u.UID, strings.Join(others, ", ")))
			fixes = append(fixes, "an extra account with uid "+strconv.Itoa(u.UID)+" is a second door: remove it (userdel), or give it a uid of its own")
		}
	}
	if len(fails) > 0 {
		r.Status = finding.Fail
		r.Explanation = "user " + c.name + ": " + strings.Join(fails, "; ")
		r.Remediation = strings.Join(fixes, "; ")
		return r
	}
	r.Status, r.Explanation = finding.Pass, "user "+c.name+": "+r.Observed
	if c.uniqueUID {
		r.Explanation += fmt.Sprintf("; no other account has uid %d", u.UID)
	}
	return r
}
