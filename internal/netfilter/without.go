package netfilter

import "github.com/hostdrift/hostdrift/internal/snapshot"

// WithoutBaseChains is p with the base chains for which drop is true left
// out of every hook: what Compile gives for the firewall without those
// chains (no rule can jump to a base chain), sharing p's compiled rules
// rather than compiling the ruleset again.
func (p *Program) WithoutBaseChains(drop func(*snapshot.Chain) bool) *Program {
	out := *p
	out.hooks = make(map[string][]*cChain, len(p.hooks))
	for hook, chains := range p.hooks {
		kept := make([]*cChain, 0, len(chains))
		for _, cc := range chains {
			if !drop(cc.c) {
				kept = append(kept, cc)
			}
		}
		if len(kept) > 0 {
			out.hooks[hook] = kept
		}
	}
	return &out
}
