package rules

import (
	"fmt"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "kernel_param",
		Summary: "a sysctl has a value, and the boot configuration (sysctl.d) sets the one the kernel runs with",
		Attributes: []hcl.AttributeSchema{
			{Name: "key", Required: true},
			{Name: "value"},
			{Name: "persistent"},
		},
		AttributeDocs: map[string]string{
			"key":        "the parameter (\"net.ipv4.ip_forward\"); a glob (\"*\", \"net.*\") judges every parameter the boot configuration sets that matches",
			"value":      "the running value it must have (\"1\"; whitespace between numbers does not matter)",
			"persistent": "the boot configuration (/etc/sysctl.d, /run/sysctl.d, /usr/lib/sysctl.d, /etc/sysctl.conf, in systemd-sysctl's order) must set the same value, so it survives a reboot; default true without value, false with",
		},
		Needs:  []string{snapshot.CollectorSysctl},
		Decode: decodeKernelParam,
	})
}

// kernelParamCheck: the parameter runs with value (when given), and the
// boot configuration sets what runs (persistent).
type kernelParamCheck struct {
	key        string
	glob       bool
	value      *string
	persistent bool
}

func decodeKernelParam(d *Decoder) Check {
	c := &kernelParamCheck{key: normalizeSysctl(d.String("key", "")), value: optionalString(d, "value")}
	c.glob = strings.ContainsAny(c.key, "*?[")
	if _, err := path.Match(c.key, ""); err != nil {
		d.Errorf("key", "Invalid key pattern", "%q: %s.", c.key, err)
	}
	if c.value != nil {
		v := strings.Join(strings.Fields(*c.value), " ")
		c.value = &v
	}
	c.persistent = d.Bool("persistent", c.value == nil)
	if c.glob && c.value != nil {
		d.Errorf("value", "Conflicting attributes", "a key pattern judges each parameter against its boot configuration; value needs one key.")
	}
	return c
}

// normalizeSysctl writes a key in the dotted form the snapshot uses.
func normalizeSysctl(k string) string {
	i := strings.IndexAny(k, "./")
	if i < 0 || k[i] == '.' {
		return k
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, k)
}

// Want asks the collector for the key, which it reads even when no boot
// configuration sets it.
func (c *kernelParamCheck) Want(w *snapshot.Wants) {
	if !c.glob && c.key != "" {
		w.Sysctl = append(w.Sysctl, c.key)
	}
}

func (c *kernelParamCheck) Evaluate(s *snapshot.Snapshot) Result {
	sy := s.Sysctl
	if sy == nil {
		return Errorf("the snapshot holds no sysctl section")
	}
	if c.glob {
		return c.evaluateGlob(sy)
	}
	r := Result{Expected: c.key}
	if c.value != nil {
		r.Expected += " = " + *c.value
	}
	if c.persistent {
		r.Expected += ", set so by the boot configuration"
	}
	p, ok := sy.Param(c.key)
	if !ok {
		return Errorf("%s was not read when this snapshot was taken; take it again with this policy", c.key)
	}
	where := ""
	if sy.NetNS != "" && strings.HasPrefix(c.key, "net.") {
		where = " in network namespace " + sy.NetNS
	}
	if !sy.Live && (c.value == nil || !c.persistent) {
		return Skipf("the running value of %s is not readable: the root read has no /proc (--root of a host that is not running)", c.key)
	}
	var fails, fixes []string
	if sy.Live {
		switch {
		case p.Error != "":
			return Errorf("%s could not be read: %s", c.key, p.Error)
		case !p.Exists:
			r.Status, r.Observed = finding.Fail, "no such parameter"
			r.Explanation = fmt.Sprintf("the running kernel has no parameter %s%s (a module not loaded, or a misspelt key)", c.key, where)
			return r
		}
		r.Observed = p.Value
		if c.value != nil && p.Value != *c.value {
			fails = append(fails, fmt.Sprintf("%s is %s%s, not %s", c.key, p.Value, where, *c.value))
			fixes = append(fixes, fmt.Sprintf("sysctl -w %s=%s", c.key, quoteSysctl(*c.value)))
		}
	}
	if c.persistent {
		switch {
		case p.Source == "" && c.value == nil:
			r.Observed += " (not set by the boot configuration: the kernel's default)"
		case p.Source == "":
			r.Observed = strings.TrimSpace(r.Observed + " (not set by the boot configuration)")
			fails = append(fails, fmt.Sprintf("no sysctl.d file sets %s = %s: it does not survive a reboot", c.key, *c.value))
			fixes = append(fixes, fmt.Sprintf("write \"%s = %s\" to a file in /etc/sysctl.d", c.key, *c.value))
		case c.value != nil && p.Configured != *c.value:
			r.Observed = strings.TrimSpace(r.Observed + fmt.Sprintf(" (boot configuration: %s at %s)", p.Configured, p.Source))
			fails = append(fails, fmt.Sprintf("%s sets %s = %s, not %s: the next reboot sets %s", p.Source, c.key, p.Configured, *c.value, p.Configured))
			fixes = append(fixes, fmt.Sprintf("set %s = %s in %s", c.key, *c.value, p.Source))
		case c.value == nil && p.Configured != p.Value:
			r.Observed += fmt.Sprintf(" (boot configuration: %s at %s)", p.Configured, p.Source)
			if sy.ReadOnly {
				return Skipf("/proc/sys is read-only here (a container): systemd-sysctl does not apply %s, the kernel's values are the host's", p.Source)
			}
			if sy.AppliedBy == "" {
				return Skipf("systemd is not the init system here, so whether anything applies %s at boot is not known (the kernel runs with %s)", p.Source, p.Value)
			}
			fails = append(fails, fmt.Sprintf("%s sets %s = %s, but the kernel runs with %s%s: the next reboot changes it", p.Source, c.key, p.Configured, p.Value, where))
			fixes = append(fixes, fmt.Sprintf("apply the boot configuration (sysctl -w %s=%s, or sysctl --system), or change %s if the running value is the one you want", c.key, quoteSysctl(p.Configured), p.Source))
		default:
			r.Observed = strings.TrimSpace(r.Observed + " (boot configuration: " + p.Source + ")")
		}
	}
	if len(fails) > 0 {
		r.Status, r.Explanation, r.Remediation = finding.Fail, strings.Join(fails, "; "), strings.Join(fixes, "; ")
		return r
	}
	r.Status, r.Explanation = finding.Pass, c.key+" = "+r.Observed+where
	if !sy.Live {
		r.Explanation = c.key + ": " + p.Source + " sets " + p.Configured + " (the running value is not readable below --root)"
	}
	return r
}

// evaluateGlob judges every configured parameter matching the pattern:
// the kernel runs with what the boot configuration sets.
func (c *kernelParamCheck) evaluateGlob(sy *snapshot.Sysctl) Result {
	r := Result{Expected: "every parameter the boot configuration sets matching " + c.key + " has that value in the running kernel"}
	if !sy.Live {
		return Skipf("the running kernel's values are not readable: the root read has no /proc (--root of a host that is not running)")
	}
	if sy.ReadOnly {
		return Skipf("/proc/sys is read-only here (a container): systemd-sysctl does not apply the boot configuration, the kernel's values are the host's")
	}
	if sy.AppliedBy == "" {
		return Skipf("systemd is not the init system here: whether anything applies the boot configuration (sysctl.d) at boot is not known")
	}
	var judged, absent int
	var fails, fixes, absentKeys []string
	for _, p := range sy.Params {
		if p.Source == "" {
			continue
		}
		if ok, _ := path.Match(c.key, p.Key); !ok {
			continue
		}
		switch {
		case p.Error != "":
			fails = append(fails, fmt.Sprintf("%s (%s): not readable: %s", p.Key, p.Source, p.Error))
		case !p.Exists:
			absent++
			absentKeys = append(absentKeys, p.Key)
		case p.Value != p.Configured:
			judged++
			fails = append(fails, fmt.Sprintf("%s sets %s = %s, the kernel runs with %s", p.Source, p.Key, p.Configured, p.Value))
			fixes = append(fixes, fmt.Sprintf("sysctl -w %s=%s", p.Key, quoteSysctl(p.Configured)))
		default:
			judged++
		}
	}
	r.Observed = fmt.Sprintf("%d parameter(s) set by %d file(s)", judged, len(sy.Files))
	note := ""
	if absent > 0 {
		note = fmt.Sprintf("; %d set for parameters this kernel does not have (not judged): %s", absent, strings.Join(absentKeys, ", "))
	}
	if sy.NetNS != "" {
		note += "; net.* read in network namespace " + sy.NetNS
	}
	if len(fails) > 0 {
		r.Status = finding.Fail
		r.Explanation = fmt.Sprintf("%d of %d parameter(s) differ from the boot configuration, which the next reboot applies: %s%s", len(fails), judged, strings.Join(fails, "; "), note)
		if len(fixes) > 0 {
			r.Remediation = "apply the boot configuration (sysctl --system, or " + strings.Join(fixes, "; ") + "), or change the file if the running value is the one you want"
		}
		return r
	}
	r.Status = finding.Pass
	r.Explanation = fmt.Sprintf("the running kernel has the value the boot configuration sets for all %d parameter(s)%s", judged, note)
	if judged == 0 {
		r.Explanation = "the boot configuration sets no parameter matching " + c.key + note
	}
	return r
}

// quoteSysctl quotes a value with spaces for sysctl -w.
func quoteSysctl(v string) string {
	if strings.ContainsAny(v, " \t") {
		return "\"" + v + "\""
	}
	return v
}
