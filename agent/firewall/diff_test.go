package firewall

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestDifferential loads real rulesets made by the real tools into a
// namespace, sends real packets through it and checks that the simulator
// agrees with the kernel: always where it says allow or deny, and that it
// says unknown for at most 2% of the probes.
func TestDifferential(t *testing.T) {
	nstest.RequireRoot(t)
	for _, c := range []string{"nft", "iptables-nft-restore", "iptables-legacy-restore", "unshare"} {
		nstest.RequireCommand(t, c)
	}
	const probes = 500
	cases := []ruleset{ufwDenyOutgoing, ufwAllowList, plainIptablesNft, plainNftables, dockerRuleset, dockerNftRuleset, firewalldRuleset, kubeRuleset(), legacyAndNft}
	results := make([]agreement, len(cases))
	for i, rs := range cases {
		t.Run(strings.ReplaceAll(rs.name, " ", "_"), func(t *testing.T) {
			ag := runDifferential(t, rs, probes, int64(1000+i))
			results[i] = ag
			for j, w := range ag.wrong {
				if j == 10 {
					t.Errorf("... and %d more disagreements", len(ag.wrong)-10)
					break
				}
				t.Errorf("disagreement: %s", w)
			}
			if max := ag.probes * 2 / 100; ag.unknown > max {
				t.Errorf("simulator said unknown for %d of %d probes, at most %d allowed", ag.unknown, ag.probes, max)
			}
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-30s %6s %8s %8s %9s %8s %9s\n", "ruleset", "probes", "allow=", "deny=", "disagree", "unknown", "agreement")
	for _, ag := range results {
		if ag.probes == 0 {
			continue
		}
		decided := ag.allowOK + ag.denyOK + len(ag.wrong)
		pct := 100.0
		if decided > 0 {
			pct = 100 * float64(ag.allowOK+ag.denyOK) / float64(decided)
		}
		fmt.Fprintf(&b, "%-30s %6d %8d %8d %9d %8d %8.1f%%\n", ag.name, ag.probes, ag.allowOK, ag.denyOK, len(ag.wrong), ag.unknown, pct)
	}
	t.Log(b.String())
}
