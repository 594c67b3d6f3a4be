package firewall

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Who owns a table is decided from what the kernel holds, not from its name.
// iptables-nft-save prints every ip and ip6 table named filter, nat, mangle,
// raw or security, whoever made it: for a table nft made it invents the
// built-in chains, leaves out base chains with other names and drops the
// expressions it cannot translate, without saying so. So every table is read
// over netlink too, and the tool's text is believed only for a table whose
// kernel contents are what iptables-nft writes.

// ruleRef names one rule of the kernel's ruleset by position.
type ruleRef struct {
	family, table, chain string
	pos                  int
}

// ownership is the outcome of comparing iptables-nft-save's tables with
// the kernel's.
type ownership struct {
	// iptables are the tables iptables-nft owns, as iptables-nft-save printed them.
	iptables []snapshot.Table
	// native are every other kernel table, decoded from netlink.
	native []snapshot.Table
	// notes say which tables iptables-nft-save printed that were read as
	// native nftables, and why.
	notes []string
}

// assignOwners splits the kernel's tables between iptables-nft and native
// nftables. saved are the tables iptables-nft-save printed; kernel every
// table netlink showed, decoded natively; xt marks the kernel rules that
// hold xt match or target expressions, which only iptables-nft writes.
//
// A table is iptables-nft's when each of its base chains is a built-in
// chain iptables-nft makes (its name, on its hook), each kernel chain was
// printed with as many rules, and each rule printed is the kernel's rule:
// the same conditions and verdict as netlink shows, or one holding xt
// expressions. Any other table is native; in it, a rule holding xt
// expressions takes the tool's reading where the chain lines up, since only
// the tool decodes those.
func assignOwners(saved, kernel []snapshot.Table, xt map[ruleRef]bool) ownership {
	var own ownership
	printed := map[string]*snapshot.Table{}
	for i := range saved {
		printed[saved[i].Family+"/"+saved[i].Name] = &saved[i]
	}
	inKernel := map[string]bool{}
	for _, kt := range kernel {
		key := kt.Family + "/" + kt.Name
		inKernel[key] = true
		st, ok := printed[key]
		if !ok {
			own.native = append(own.native, kt)
			continue
		}
		why := foreignContent(st, &kt, xt)
		if why == "" {
			own.iptables = append(own.iptables, *st)
			continue
		}
		own.native = append(own.native, withXtRules(kt, st, xt))
		own.notes = append(own.notes, fmt.Sprintf("table %s %s is read as native nftables: iptables-nft-save prints it, but %s", kt.Family, kt.Name, why))
	}
	// A table the tool printed that netlink did not show was made or
	// removed between the two reads: keep the tool's reading.
	for _, st := range saved {
		if !inKernel[st.Family+"/"+st.Name] {
			own.iptables = append(own.iptables, st)
		}
	}
	return own
}

// foreignContent says what in the kernel's table iptables-nft does not
// write, or "" when its contents are all iptables-nft's.
func foreignContent(st, kt *snapshot.Table, xt map[ruleRef]bool) string {
	for i := range kt.Chains {
		kc := &kt.Chains[i]
		if kc.Base() {
			b, ok := builtins[kt.Name][kc.Name]
			if !ok || b.hook != kc.Hook {
				return fmt.Sprintf("the kernel holds base chain %s on hook %s, which iptables-nft does not make", kc.Name, kc.Hook)
			}
		}
		sc := st.Chain(kc.Name)
		if sc == nil {
			return fmt.Sprintf("it leaves out chain %s", kc.Name)
		}
		if kc.Base() && sc.Policy != kc.Policy {
			return fmt.Sprintf("it prints policy %s for chain %s, the kernel holds %s", sc.Policy, kc.Name, kc.Policy)
		}
		if len(sc.Rules) != len(kc.Rules) {
			return fmt.Sprintf("it prints %d rules in chain %s, the kernel holds %d", len(sc.Rules), kc.Name, len(kc.Rules))
		}
		for j := range kc.Rules {
			if xt[ruleRef{kt.Family, kt.Name, kc.Name, j + 1}] {
				continue // only iptables-nft writes xt expressions
			}
			if !sameConditions(&kc.Rules[j], &sc.Rules[j]) {
				return fmt.Sprintf("it prints rule %d of chain %s as %q, while the kernel holds %q", j+1, kc.Name, sc.Rules[j].Text, kc.Rules[j].Text)
			}
		}
	}
	// Chains the tool printed that the kernel lacks are the built-in chains
	// it invents: harmless while empty and accepting.
	for _, sc := range st.Chains {
		if kt.Chain(sc.Name) == nil && (len(sc.Rules) > 0 || (sc.Base() && sc.Policy != snapshot.VerdictAccept)) {
			return fmt.Sprintf("it prints chain %s, which the kernel does not hold", sc.Name)
		}
	}
	return ""
}

// sameConditions reports whether two readings of one rule, the kernel's
// and the tool's, test the same fields and end in the same verdict. It
// catches what the tool leaves out (a set lookup, a verdict map, a
// concatenation it cannot print) without comparing how each spells values.
// Where hostdrift's decoder does not understand part of the kernel's rule
// (a load it cannot name), the tool's reading must hold every field the
// decoder did understand and more besides: the tool printed what the
// decoder could not name, and left nothing out that it could.
func sameConditions(k, s *snapshot.Rule) bool {
	if k.Verdict.Kind != s.Verdict.Kind || k.Verdict.Chain != s.Verdict.Chain {
		return false
	}
	kk, sk := conditionKeys(k, true), conditionKeys(s, false)
	if len(k.Unsupported) == 0 {
		return slices.Equal(kk, sk)
	}
	if len(sk) <= len(kk) {
		return false
	}
	rest := slices.Clone(sk)
	for _, f := range kk {
		i := slices.Index(rest, f)
		if i < 0 {
			return false
		}
		rest = slices.Delete(rest, i, i+1)
	}
	return true
}

// conditionKeys lists the fields a rule tests, negated ones marked. A
// lookup in an anonymous set of one key (iptables-nft's translation of
// multiport and of lists of addresses) counts as a test of that key.
func conditionKeys(r *snapshot.Rule, kernel bool) []string {
	keys := make([]string, 0, len(r.Matches))
	for _, m := range r.Matches {
		f := m.Field
		if kernel && f == snapshot.FieldMayMatch && len(r.Unsupported) > 0 {
			continue // stands for what the decoder did not understand
		}
		if kernel && f == "set" && len(m.Keys) == 1 && strings.HasPrefix(m.Set, "__set") {
			f = m.Keys[0]
		}
		if m.Negate {
			f = "!" + f
		}
		keys = append(keys, f)
	}
	sort.Strings(keys)
	return keys
}

// withXtRules returns the native table kt with each rule that holds xt
// expressions replaced by the tool's reading of it, where the tool printed
// the chain with the kernel's number of rules (the rule lines up).
func withXtRules(kt snapshot.Table, st *snapshot.Table, xt map[ruleRef]bool) snapshot.Table {
	for i := range kt.Chains {
		kc := &kt.Chains[i]
		sc := st.Chain(kc.Name)
		if sc == nil || len(sc.Rules) != len(kc.Rules) {
			continue
		}
		for j := range kc.Rules {
			if xt[ruleRef{kt.Family, kt.Name, kc.Name, j + 1}] {
				r := sc.Rules[j]
				r.Handle, r.Position = kc.Rules[j].Handle, kc.Rules[j].Position
				kc.Rules[j] = r
			}
		}
	}
	return kt
}
