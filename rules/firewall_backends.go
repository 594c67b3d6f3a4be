package rules

import (
	"fmt"
	"strings"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "firewall_backends",
		Summary: "iptables-legacy and nftables (native or through iptables-nft) do not both hold rules: the kernel runs both, and a drop in either wins",
		Needs:   []string{snapshot.CollectorFirewall},
		Decode:  func(*Decoder) Check { return backendsCheck{} },
	})
}

// backendsCheck: at most one of iptables-legacy and nf_tables is in use.
// Both are hooked into the kernel at once; each tool shows only its own
// rules, so a drop in the other one is invisible to whoever looks.
type backendsCheck struct{}

func (backendsCheck) Evaluate(s *snapshot.Snapshot) Result {
	fw := s.Firewall
	if fw == nil {
		return Errorf("cannot evaluate: the firewall collector recorded no rules section")
	}
	r := Result{Expected: "rules in iptables-legacy or in nf_tables (nftables, iptables-nft), not both"}
	var legacy, nf []string
	for _, b := range fw.Backends {
		if d := backendActivity(fw, b); d != "" {
			if b.Name == snapshot.BackendIptablesLegacy {
				legacy = append(legacy, d)
			} else {
				nf = append(nf, d)
			}
		}
	}
	r.Observed = "in use: " + orNone(append(append([]string(nil), nf...), legacy...))
	if len(legacy) > 0 && len(nf) > 0 {
		r.Status = finding.Fail
		r.Explanation = fmt.Sprintf("%s and %s are both active: the kernel runs both rulesets, a packet must pass both and a drop in either wins, "+
			"yet `iptables -L` (iptables-nft on Debian) shows only one of them", strings.Join(legacy, ", "), strings.Join(nf, " and "))
		r.Remediation = "keep one: review the legacy rules with `iptables-legacy-save` and `ip6tables-legacy-save`, move what is still needed to the nf_tables side, " +
			"flush the legacy tables (`iptables-legacy -F; iptables-legacy -X`, same for nat and mangle) and find the tool that loads them (update-alternatives --display iptables)"
		return r
	}
	if gaps := netfilter.FirewallGaps(s); len(gaps) > 0 {
		return Result{Status: finding.Error, Expected: r.Expected, Observed: r.Observed,
			Explanation: "whether both are in use cannot be told: " + strings.Join(gaps, "; "),
			Remediation: netfilter.GapFix(s)}
	}
	r.Status = finding.Pass
	r.Explanation = "one rule source at most: " + r.Observed
	if len(legacy)+len(nf) == 0 {
		r.Explanation = "no ruleset holds rules or a dropping policy"
	}
	return r
}

// backendActivity describes what a backend holds when it can change a
// packet's fate (rules, or a base chain whose policy drops); "" otherwise.
func backendActivity(fw *snapshot.Firewall, b snapshot.Backend) string {
	if !b.Available {
		return ""
	}
	drops := 0
	for _, t := range fw.Tables {
		if t.Backend != b.Name {
			continue
		}
		for _, c := range t.Chains {
			if c.Base() && c.Policy == snapshot.VerdictDrop {
				drops++
			}
		}
	}
	switch {
	case b.Rules > 0:
		return fmt.Sprintf("%s (%d rules in %d tables)", b.Name, b.Rules, b.Tables)
	case drops > 0:
		return fmt.Sprintf("%s (%d chains with policy drop)", b.Name, drops)
	}
	return ""
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}
