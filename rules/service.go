package rules

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "service",
		Summary: "systemd units (the one named, or all a glob matches) exist, are active, enabled, not failed, restart rarely, and run from the expected unit file",
		Attributes: []hcl.AttributeSchema{
			{Name: "unit", Required: true},
			{Name: "exists"},
			{Name: "active"},
			{Name: "enabled"},
			{Name: "failed"},
			{Name: "max_restarts"},
			{Name: "file"},
			{Name: "drop_ins"},
		},
		AttributeDocs: map[string]string{
			"unit":         "the unit (\"nginx\" means nginx.service), or a glob over all units (\"*\", \"*.mount\", \"php*-fpm.service\")",
			"exists":       "whether the unit must exist (default true for a name, not judged for a glob)",
			"active":       "whether it must be active (running, or exited after success for a oneshot); needs the running systemd",
			"enabled":      "whether it must be enabled (its unit file linked to start at boot); false also accepts disabled, masked and static",
			"failed":       "false asserts it is not in the failed state (\"no failed units\" with unit = \"*\"); true does not judge it; needs the running systemd",
			"max_restarts": "how often systemd may have restarted it (NRestarts) since it was last started by hand",
			"file":         "the unit file it must be loaded from (\"/lib/systemd/system/nginx.service\": no copy in /etc overrides it)",
			"drop_ins":     "whether drop-ins (NAME.d/*.conf) may override it: false asserts there are none",
		},
		Needs:  []string{snapshot.CollectorServices},
		Decode: decodeService,
	})
}

// serviceCheck: every selected unit has each asserted property.
type serviceCheck struct {
	unit                   string
	glob                   bool
	exists                 bool
	active, enabled, fails *bool
	maxRestarts            *int
	file                   *string
	dropIns                *bool
}

func decodeService(d *Decoder) Check {
	c := &serviceCheck{unit: d.String("unit", "")}
	c.glob = strings.ContainsAny(c.unit, "*?[")
	if _, err := path.Match(c.unit, ""); err != nil {
		d.Errorf("unit", "Invalid unit pattern", "%q: %s.", c.unit, err)
	}
	if !c.glob && !strings.Contains(c.unit, ".") {
		c.unit += ".service"
	}
	c.exists = d.Bool("exists", !c.glob)
	c.active, c.enabled, c.fails = optionalBool(d, "active"), optionalBool(d, "enabled"), optionalBool(d, "failed")
	c.maxRestarts, c.file, c.dropIns = optionalInt(d, "max_restarts"), optionalString(d, "file"), optionalBool(d, "drop_ins")
	if d.Has("exists") && !c.exists && (c.active != nil || c.enabled != nil || c.fails != nil || c.maxRestarts != nil || c.file != nil || c.dropIns != nil) {
		d.Errorf("exists", "Conflicting attributes", "exists = false cannot be combined with other attributes: an absent unit has none.")
	}
	return c
}

// runtime reports whether the check asks about what only the running
// systemd knows.
func (c *serviceCheck) runtime() bool {
	return c.active != nil || c.fails != nil || c.maxRestarts != nil
}

func (c *serviceCheck) expectation() string {
	if !c.exists && !c.glob {
		return c.unit + " does not exist"
	}
	var parts []string
	yesNo := func(b *bool, yes, no string) {
		if b != nil {
			parts = append(parts, map[bool]string{true: yes, false: no}[*b])
		}
	}
	yesNo(c.active, "active", "not active")
	yesNo(c.enabled, "enabled", "not enabled")
	yesNo(c.fails, "may be failed", "not failed")
	if c.maxRestarts != nil {
		parts = append(parts, fmt.Sprintf("restarted at most %d time(s)", *c.maxRestarts))
	}
	if c.file != nil {
		parts = append(parts, "loaded from "+*c.file)
	}
	yesNo(c.dropIns, "drop-ins allowed", "no drop-ins")
	subject := c.unit
	if c.glob {
		subject = "every unit matching " + c.unit
	}
	if len(parts) == 0 {
		return subject + " exists"
	}
	return subject + ": " + strings.Join(parts, ", ")
}

// describeUnit renders a unit as systemctl status would summarize it.
func describeUnit(u snapshot.Unit) string {
	var parts []string
	if u.ActiveState != "" {
		st := u.ActiveState
		if u.SubState != "" {
			st += " (" + u.SubState + ")"
		}
		parts = append(parts, st)
	}
	if u.FileState != "" {
		parts = append(parts, u.FileState)
	}
	if u.File != "" {
		parts = append(parts, u.File)
	}
	if len(u.DropIns) > 0 {
		parts = append(parts, "drop-ins "+strings.Join(u.DropIns, ", "))
	}
	if u.Result != "" && u.Result != "success" {
		r := "result " + u.Result
		if u.ExitStatus != nil && *u.ExitStatus != 0 {
			r += fmt.Sprintf(" (status %d)", *u.ExitStatus)
		}
		parts = append(parts, r)
	}
	if u.Restarts != nil && *u.Restarts > 0 {
		parts = append(parts, fmt.Sprintf("restarted %d time(s)", *u.Restarts))
	}
	return strings.Join(parts, ", ")
}

func (c *serviceCheck) Evaluate(s *snapshot.Snapshot) Result {
	sv := s.Services
	if sv == nil {
		return Errorf("the snapshot holds no services section")
	}
	r := Result{Expected: c.expectation()}
	if c.runtime() && sv.Source != snapshot.ServicesDBus {
		if s.Root != "" && s.Root != "/" {
			return Skipf("whether units run is not known below --root (%s): only unit files were read", s.Root)
		}
		return Skipf("systemd is not running here: whether units run is not known, only unit files were read")
	}
	var units []snapshot.Unit
	for _, u := range sv.Units {
		if u.Name == c.unit {
			units = append(units, u)
		} else if c.glob {
			if ok, _ := path.Match(c.unit, u.Name); ok {
				units = append(units, u)
			}
		}
	}
	present := func(u snapshot.Unit) bool { return u.LoadState != "not-found" && (u.File != "" || u.LoadState != "") }
	if !c.glob {
		var u snapshot.Unit
		found := len(units) == 1 && present(units[0])
		if found {
			u = units[0]
		}
		switch {
		case !c.exists && !found:
			r.Status, r.Observed, r.Explanation = finding.Pass, "absent", "no unit "+c.unit
			return r
		case !c.exists:
			r.Status, r.Observed = finding.Fail, describeUnit(u)
			r.Explanation = c.unit + " exists: " + r.Observed
			r.Remediation = "systemctl disable --now " + c.unit + ", and remove the package or unit file that installs it"
			return r
		case !found:
			r.Status, r.Observed = finding.Fail, "absent"
			r.Explanation = fmt.Sprintf("no unit %s (%d units read from %s)", c.unit, len(sv.Units), servicesSource(sv))
			r.Remediation = "install the package that ships " + c.unit + ", or fix the check's unit"
			return r
		}
	}
	var ok []snapshot.Unit
	var fails, fixes []string
	if c.glob && c.exists && !slices.ContainsFunc(units, present) {
		r.Status, r.Observed = finding.Fail, "no unit matches"
		r.Explanation = fmt.Sprintf("no unit matches %s (%d units read from %s)", c.unit, len(sv.Units), servicesSource(sv))
		return r
	}
	for _, u := range units {
		if !present(u) {
			continue
		}
		f, fx := c.judge(u)
		if len(f) == 0 {
			ok = append(ok, u)
			continue
		}
		fails = append(fails, u.Name+" ("+describeUnit(u)+"): "+strings.Join(f, "; "))
		for _, x := range fx {
			fixes = appendOnce(fixes, x)
		}
	}
	if c.glob {
		r.Observed = fmt.Sprintf("%d unit(s) match", len(ok)+len(fails))
	} else {
		r.Observed = describeUnit(units[0])
	}
	if len(fails) > 0 {
		r.Status, r.Remediation = finding.Fail, strings.Join(fixes, "; ")
		r.Explanation = strings.Join(fails, "\n")
		if c.glob {
			r.Explanation = fmt.Sprintf("%d of %d unit(s) matching %s:\n%s", len(fails), len(ok)+len(fails), c.unit, r.Explanation)
		}
		return r
	}
	r.Status = finding.Pass
	if c.glob {
		r.Explanation = fmt.Sprintf("all %d unit(s) matching %s: %s", len(ok), c.unit, strings.TrimPrefix(c.expectation(), "every unit matching "+c.unit+": "))
	} else {
		r.Explanation = c.unit + ": " + r.Observed
	}
	return r
}

// judge returns what is wrong with one unit, and the fixes.
func (c *serviceCheck) judge(u snapshot.Unit) (fails, fixes []string) {
	add := func(f, fix string) {
		fails = append(fails, f)
		if fix != "" {
			fixes = append(fixes, fix)
		}
	}
	if c.fails != nil && !*c.fails && u.ActiveState == "failed" {
		add("it is failed", "journalctl -b -u "+u.Name+" shows why it failed; once fixed, systemctl restart "+u.Name+" (or systemctl reset-failed "+u.Name+" if it is not meant to run)")
	}
	if c.active != nil {
		isActive := u.ActiveState == "active" || u.ActiveState == "reloading"
		switch {
		case *c.active && !isActive && u.FileState == "masked":
			add("it is masked, so it cannot start", "systemctl unmask "+u.Name+" && systemctl start "+u.Name)
		case *c.active && !isActive:
			add("it is not active ("+u.ActiveState+")", "systemctl start "+u.Name+"; journalctl -b -u "+u.Name+" says why it stopped")
		case !*c.active && isActive:
			add("it is active", "systemctl stop "+u.Name)
		}
	}
	if c.enabled != nil {
		isEnabled := u.FileState == "enabled" || u.FileState == "enabled-runtime"
		switch {
		case *c.enabled && isEnabled:
		case *c.enabled && u.FileState == "masked":
			add("it is masked", "systemctl unmask "+u.Name+" && systemctl enable "+u.Name)
		case *c.enabled && u.FileState == "static":
			add("it is static (no [Install] section): it starts only when another unit pulls it in", "")
		case *c.enabled:
			add("it is not enabled ("+orUnknown(u.FileState)+"): it does not start at boot", "systemctl enable "+u.Name)
		case isEnabled:
			add("it is enabled: it starts at boot", "systemctl disable "+u.Name)
		}
	}
	if c.maxRestarts != nil && u.Restarts != nil && int(*u.Restarts) > *c.maxRestarts {
		add(fmt.Sprintf("systemd restarted it %d time(s), more than %d: it keeps crashing", *u.Restarts, *c.maxRestarts), "journalctl -b -u "+u.Name+" shows why it exits")
	}
	if c.file != nil && u.File != *c.file {
		add("it is loaded from "+orUnknown(u.File)+", not "+*c.file, "a unit file of the same name in a folder of higher priority (/etc/systemd/system) overrides "+*c.file+": remove the copy, or use a drop-in")
	}
	if c.dropIns != nil && !*c.dropIns && len(u.DropIns) > 0 {
		add("drop-ins override its unit file: "+strings.Join(u.DropIns, ", "), "systemctl cat "+u.Name+" shows the merged unit; remove the drop-ins that are not meant to be there")
	}
	return fails, fixes
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// servicesSource names where the units were read.
func servicesSource(sv *snapshot.Services) string {
	if sv.Source == snapshot.ServicesDBus {
		return "the running systemd"
	}
	return "unit files"
}
