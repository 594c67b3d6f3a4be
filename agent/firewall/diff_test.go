package firewall

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestDifferential loads real rulesets made by the real tools into a
// namespace, sends real packets through it, IPv4 and IPv6, and checks that
// the simulator agrees with the kernel: always where it says allow or deny,
// and that it says unknown for at most 1% of the probes of each family.
// Every probe is the first packet of a fresh peer, the packet hostdrift's
// verdicts are about (see netfilter.Simulate).
func TestDifferential(t *testing.T) {
	nstest.RequireRoot(t)
	for _, c := range []string{"nft", "ipset", "iptables-nft-restore", "iptables-legacy-restore", "ip6tables-nft-restore", "ip6tables-legacy-restore", "unshare"} {
		nstest.RequireCommand(t, c)
	}
	const probes = 640
	cases := []ruleset{ufwDenyOutgoing("nft"), ufwAllowList("nft"), ufwDenyOutgoing("legacy"), ufwAllowList("legacy"), plainIptablesNft, plainNftables, dockerNftRuleset,
		firewalldRuleset, kubeRuleset(), legacyAndNft, firstPacketIptables("nft"), firstPacketIptables("legacy"), firstPacketNftables,
		ipsetRuleset("nft"), ipsetRuleset("legacy"), conntrackTupleRuleset("nft"), conntrackTupleRuleset("legacy"), nftFirstFieldsRuleset}
	var results []agreement
	for i, rs := range cases {
		t.Run(strings.ReplaceAll(rs.name, " ", "_"), func(t *testing.T) {
			v4, v6 := runDifferential(t, rs, probes, int64(1000+i))
			results = append(results, checkAgreement(t, rs, v4, v6)...)
		})
	}
	t.Log(agreementTable(results))
}

// checkAgreement fails the test on any disagreement, on more than 1% of
// unknown verdicts in a family, on too few IPv6 probes where the ruleset has
// IPv6 rules, and on a history ruleset that assumed nothing. It returns the
// families that had probes, for the table.
func checkAgreement(t *testing.T, rs ruleset, v4, v6 agreement) []agreement {
	t.Helper()
	var out []agreement
	for _, ag := range []agreement{v4, v6} {
		if ag.probes == 0 {
			continue
		}
		out = append(out, ag)
		for j, w := range ag.wrong {
			if j == 10 {
				t.Errorf("... and %d more disagreements", len(ag.wrong)-10)
				break
			}
			t.Errorf("disagreement: %s", w)
		}
		if max := ag.probes / 100; ag.unknown > max {
			t.Errorf("%s: simulator said unknown for %d of %d probes, at most %d allowed; first: %s", ag.name, ag.unknown, ag.probes, max, ag.why[0])
		}
	}
	if rs.v6 && v6.probes < 200 {
		t.Errorf("only %d IPv6 probes", v6.probes)
	}
	if rs.history && v4.assumed+v6.assumed == 0 {
		t.Errorf("no verdict assumed anything of the peer's history: the ruleset does not test that")
	}
	return out
}

// agreementTable renders one line per ruleset and family.
func agreementTable(results []agreement) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-40s %6s %11s %10s %9s %8s %8s\n", "ruleset", "probes", "allow-agree", "deny-agree", "disagree", "unknown", "assumed")
	for _, ag := range results {
		fmt.Fprintf(&b, "%-40s %6d %11d %10d %9d %7.1f%% %8d\n", ag.name, ag.probes, ag.allowOK, ag.denyOK, len(ag.wrong), 100*float64(ag.unknown)/float64(ag.probes), ag.assumed)
	}
	return b.String()
}
