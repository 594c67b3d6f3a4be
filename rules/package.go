package rules

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/parse/debversion"
	"github.com/hostdrift/hostdrift/internal/parse/rpmversion"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "package",
		Summary: "a package is installed (at a version or constraint), held or not, or absent, per the host's package database (dpkg's or rpm's)",
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
			"version":   "the version it must have, or a constraint (\">= 3.0.11\", \"<< 4\", \"!= 1.2-1\"), compared as the host's package manager does: dpkg's rules, or rpm's ([epoch:]version[-release]; without a release, any release matches)",
			"held":      "whether it must (true) or must not (false) be on hold (apt-mark hold); default: not judged; dpkg hosts only (rpm's database records no holds)",
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
	constraint *versionConstraint
	held       *bool
}

// versionConstraint is a version attribute read both ways; which applies
// is the host's package manager's.
type versionConstraint struct {
	text   string
	deb    *debversion.Constraint
	debErr error
	rpm    *rpmversion.Constraint
	rpmErr error
}

func parseVersionConstraint(text string) (*versionConstraint, error) {
	c := &versionConstraint{text: text}
	op, v := debversion.CutOperator(text)
	if d, err := debversion.ParseConstraint(text); err == nil {
		c.deb = &d
	} else {
		c.debErr = err
	}
	if r, err := rpmversion.Parse(v); err == nil {
		c.rpm = &rpmversion.Constraint{Op: op, Version: r}
	} else {
		c.rpmErr = err
	}
	if c.deb == nil && c.rpm == nil {
		return nil, c.debErr
	}
	return c, nil
}

// String writes the constraint as it was meant ("= 1.2", ">= 3.0.11").
func (c *versionConstraint) String() string {
	switch {
	case c.deb != nil:
		return c.deb.String()
	case c.rpm != nil:
		return c.rpm.String()
	}
	return c.text
}

// op is the constraint's relation ("=", ">=").
func (c *versionConstraint) op() string {
	op, _ := debversion.CutOperator(c.text)
	return op
}

// version is the version named, as written.
func (c *versionConstraint) version() string {
	_, v := debversion.CutOperator(c.text)
	return v
}

// match reports whether version, as the source's database writes it,
// satisfies the constraint, by the source's rules.
func (c *versionConstraint) match(source, version string) (bool, error) {
	if source == snapshot.SourceRPM {
		if c.rpm == nil {
			return false, fmt.Errorf("version %q is not an rpm version: %v", c.text, c.rpmErr)
		}
		v, err := rpmversion.Parse(version)
		if err != nil {
			return false, err
		}
		return c.rpm.Match(v), nil
	}
	if c.deb == nil {
		return false, fmt.Errorf("version %q is not a Debian version: %v", c.text, c.debErr)
	}
	v, err := debversion.Parse(version)
	if err != nil {
		return false, err
	}
	return c.deb.Match(v), nil
}

// manager is what a finding says about a package manager: its database's
// name and its commands.
type manager struct {
	db                            string
	install, remove, hold, unhold func(name string) string
	installAt                     func(name, version string) string
	available                     func(name string) string
}

var managers = map[string]manager{
	snapshot.SourceDpkg: {
		db:        "the dpkg database",
		install:   func(n string) string { return "apt-get install " + n },
		installAt: func(n, v string) string { return "apt-get install " + n + "=" + v },
		remove:    func(n string) string { return "apt-get purge " + n },
		hold:      func(n string) string { return "apt-mark hold " + n },
		unhold:    func(n string) string { return "apt-mark unhold " + n },
		available: func(n string) string { return "apt-cache policy " + n + " lists those available" },
	},
	snapshot.SourceRPM: {
		db:        "the rpm database",
		install:   func(n string) string { return "dnf install " + n },
		installAt: func(n, v string) string { return "dnf install " + n + "-" + v },
		remove:    func(n string) string { return "dnf remove " + n },
		available: func(n string) string { return "dnf list --showduplicates " + n + " lists those available" },
	},
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
		k, err := parseVersionConstraint(v)
		if err != nil {
			d.Errorf("version", "Invalid version", "%s; write a version (\"3.0.11-1\") or a constraint (\">= 3.0.11\", \"<< 4\").", err)
		} else {
			c.constraint = k
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
	pm, ok := managers[s.Packages.Source]
	if !ok {
		return Errorf("the snapshot's packages come from %q, a package manager hostdrift does not know", s.Packages.Source)
	}
	if c.held != nil && s.Packages.Source == snapshot.SourceRPM {
		return Errorf("held cannot be judged on this host: rpm's database records no holds (dnf's versionlock list is not read); drop held, or pin the version")
	}
	r := evaluatePackage(c, s.Packages, pm)
	if s.Packages.Authority != "" && r.Explanation != "" {
		r.Explanation += " (" + s.Packages.Authority + ")"
	}
	return r
}

func evaluatePackage(c *packageCheck, pkgs *snapshot.Packages, pm manager) Result {
	r := Result{Expected: c.subject() + " " + c.expectation()}
	var found []snapshot.Package
	for _, p := range pkgs.Named(c.name) {
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
				r.Explanation += ": only " + strings.Join(others, ", ") + " in " + pm.db
			}
			return r
		}
		r.Status, r.Observed = finding.Fail, describePackages(installed)
		r.Explanation = fmt.Sprintf("%s is installed: %s", c.subject(), r.Observed)
		r.Remediation = pm.remove(c.subject())
		return r
	}
	if len(installed) == 0 {
		r.Status, r.Observed = finding.Fail, "not installed"
		r.Explanation = fmt.Sprintf("%s is not installed (%d packages in %s)", c.subject(), len(pkgs.Packages), pm.db)
		if len(others) > 0 {
			r.Observed = strings.Join(others, ", ")
			r.Explanation = fmt.Sprintf("%s is not fully installed: %s", c.subject(), r.Observed)
		}
		r.Remediation = pm.install(c.subject())
		if c.constraint != nil && c.constraint.op() == "=" {
			r.Remediation = pm.installAt(c.subject(), c.constraint.version())
		}
		return r
	}
	r.Observed = describePackages(installed)
	var fails, fixes []string
	for _, p := range installed {
		id := p.Name + ":" + p.Arch
		if c.constraint != nil {
			ok, err := c.constraint.match(pkgs.Source, p.Version)
			switch {
			case err != nil:
				return Errorf("%s at version %s: cannot be compared by %s's rules: %v", id, p.Version, pkgs.Source, err)
			case !ok:
				fails = append(fails, fmt.Sprintf("%s is at version %s, not %s", id, p.Version, c.constraint))
				if c.constraint.op() == "=" {
					fixes = appendOnce(fixes, pm.installAt(c.name, c.constraint.version()))
				} else {
					fixes = appendOnce(fixes, "install a version of "+c.name+" that satisfies "+c.constraint.String()+" ("+pm.available(c.name)+")")
				}
			}
		}
		if c.held != nil && p.Held() != *c.held {
			if *c.held {
				fails = append(fails, id+" is not on hold")
				fixes = appendOnce(fixes, pm.hold(c.name))
			} else {
				fails = append(fails, id+" is on hold: upgrades pass it by")
				fixes = appendOnce(fixes, pm.unhold(c.name))
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
