package rules

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/parse/debversion"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "package",
		Summary: "a package is installed (at a version or constraint), held or not, or absent, per the dpkg database",
		Attributes: []hcl.AttributeSchema{
			{Name: "name", Required: true},
			{Name: "arch"},
			{Name: "installed"},
			{Name: "version"},
			{Name: "held"},
		},
		AttributeDocs: map[string]string{
			"name":      "the package's name (\"openssl\")",
			"arch":      "its architecture (\"amd64\"; default: any)",
			"installed": "whether it must be installed (default true); false: absent or only its configuration left",
			"version":   "the version it must have, or a constraint compared as dpkg does (\">= 3.0.11\", \"<< 4\", \"!= 1.2-1\")",
			"held":      "whether it must (true) or must not (false) be on hold (apt-mark hold); default: not judged",
		},
		Needs:  []string{snapshot.CollectorPackages},
		Decode: decodePackage,
	})
}

// packageCheck: the named package is installed (or not), at a version
// satisfying constraint, held or not.
type packageCheck struct {
	name, arch string
	installed  bool
	constraint *debversion.Constraint
	held       *bool
}

// optionalBool reads a boolean attribute that is judged only when set.
func optionalBool(d *Decoder, name string) *bool {
	if !d.Has(name) {
		return nil
	}
	b := d.Bool(name, false)
	return &b
}

func decodePackage(d *Decoder) Check {
	c := &packageCheck{name: d.String("name", ""), arch: d.String("arch", ""), installed: d.Bool("installed", true), held: optionalBool(d, "held")}
	if v := d.String("version", ""); d.Has("version") {
		k, err := debversion.ParseConstraint(v)
		if err != nil {
			d.Errorf("version", "Invalid version", "%s; write a version (\"3.0.11-1\") or a constraint (\">= 3.0.11\", \"<< 4\").", err)
		} else {
			c.constraint = &k
		}
	}
	if !c.installed && (c.constraint != nil || c.held != nil) {
		d.Errorf("installed", "Conflicting attributes", "installed = false cannot be combined with version or held: an absent package has neither.")
	}
	return c
}

func (c *packageCheck) subject() string {
	if c.arch != "" {
		return c.name + ":" + c.arch
	}
	return c.name
}

func (c *packageCheck) Evaluate(s *snapshot.Snapshot) Result {
	if s.Packages == nil {
		return Errorf("the snapshot holds no packages section")
	}
	if s.Packages.Absent != "" {
		return Skipf("does not apply to this host: %s", s.Packages.Absent)
	}
	r := Result{Expected: c.subject() + " " + c.expectation()}
	var found []snapshot.Package
	for _, p := range s.Packages.Named(c.name) {
		if c.arch == "" || p.Arch == c.arch {
			found = append(found, p)
		}
	}
	var installed []snapshot.Package
	var others []string
	for _, p := range found {
		if p.Installed() {
			installed = append(installed, p)
		} else {
			others = append(others, fmt.Sprintf("%s:%s %s (%s)", p.Name, p.Arch, p.Version, p.State))
		}
	}
	if !c.installed {
		if len(installed) == 0 {
			r.Status, r.Observed = finding.Pass, "not installed"
			r.Explanation = c.subject() + " is not installed"
			if len(others) > 0 {
				r.Explanation += ": only " + strings.Join(others, ", ") + " in the dpkg database"
			}
			return r
		}
		r.Status, r.Observed = finding.Fail, describePackages(installed)
		r.Explanation = fmt.Sprintf("%s is installed: %s", c.subject(), r.Observed)
		r.Remediation = "apt-get purge " + c.subject()
		return r
	}
	if len(installed) == 0 {
		r.Status, r.Observed = finding.Fail, "not installed"
		r.Explanation = fmt.Sprintf("%s is not installed (%d packages in the dpkg database)", c.subject(), len(s.Packages.Packages))
		if len(others) > 0 {
			r.Observed = strings.Join(others, ", ")
			r.Explanation = fmt.Sprintf("%s is not fully installed: %s", c.subject(), r.Observed)
		}
		r.Remediation = "apt-get install " + c.subject()
		if c.constraint != nil && c.constraint.Op == "=" {
			r.Remediation += "=" + c.constraint.Version.String()
		}
		return r
	}
	r.Observed = describePackages(installed)
	var fails, fixes []string
	for _, p := range installed {
		id := p.Name + ":" + p.Arch
		if c.constraint != nil {
			v, err := debversion.Parse(p.Version)
			switch {
			case err != nil:
				return Errorf("%s: the dpkg database's version cannot be compared: %v", id, err)
			case !c.constraint.Match(v):
				fails = append(fails, fmt.Sprintf("%s is at version %s, not %s", id, p.Version, c.constraint))
				if c.constraint.Op == "=" {
					fixes = appendOnce(fixes, "apt-get install "+c.name+"="+c.constraint.Version.String())
				} else {
					fixes = appendOnce(fixes, "install a version of "+c.name+" that satisfies "+c.constraint.String()+" (apt-cache policy "+c.name+" lists those available)")
				}
			}
		}
		if c.held != nil && p.Held() != *c.held {
			if *c.held {
				fails = append(fails, id+" is not on hold")
				fixes = appendOnce(fixes, "apt-mark hold "+c.name)
			} else {
				fails = append(fails, id+" is on hold: upgrades pass it by")
				fixes = appendOnce(fixes, "apt-mark unhold "+c.name)
			}
		}
	}
	if len(fails) > 0 {
		r.Status, r.Explanation, r.Remediation = finding.Fail, strings.Join(fails, "; "), strings.Join(fixes, "; ")
		return r
	}
	r.Status, r.Explanation = finding.Pass, c.subject()+" is installed: "+r.Observed
	return r
}

func (c *packageCheck) expectation() string {
	if !c.installed {
		return "not installed"
	}
	e := "installed"
	if c.constraint != nil {
		e += ", version " + c.constraint.String()
	}
	if c.held != nil {
		if *c.held {
			e += ", on hold"
		} else {
			e += ", not on hold"
		}
	}
	return e
}

func describePackages(ps []snapshot.Package) string {
	var parts []string
	for _, p := range ps {
		s := p.Name + ":" + p.Arch + " " + p.Version
		if p.Held() {
			s += " (held)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
