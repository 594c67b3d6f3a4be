package firewall

import (
	"errors"
	"slices"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// xtTables are the tables iptables-nft makes (its builtin tables) and
// iptables-nft-save prints, in the ip and ip6 families only.
var xtTables = []string{"filter", "mangle", "raw", "security", "nat"}

// xtChains are the builtin chains iptables-nft creates in them, named as
// iptables names them (a native nftables table uses its own names, by
// convention lower case).
var xtChains = []string{"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}

// xtCompatTables lists, as "family table", the nf_tables tables read over
// netlink that iptables-nft made or could have made: in a family whose
// iptables-nft-save is missing, a builtin table name that either holds a rule
// with an xt match or target (what nftables marks "managed by iptables-nft,
// do not touch") or has a chain named as iptables names its builtin chains.
// A table that is neither is native nftables, and iptables-nft holds nothing
// there. xt marks the tables with xt expressions, by "family/table".
func xtCompatTables(tables []snapshot.Table, xt map[string]bool, families []string) []string {
	var out []string
	for _, t := range tables {
		if !slices.Contains(families, t.Family) {
			continue
		}
		compat := xt[t.Family+"/"+t.Name]
		if slices.Contains(xtTables, t.Name) {
			for _, c := range t.Chains {
				compat = compat || slices.Contains(xtChains, c.Name)
			}
		}
		if compat {
			out = append(out, t.Family+" "+t.Name)
		}
	}
	return out
}

// toolMissingError is a dump tool that is not installed, as distinct from
// one that failed.
type toolMissingError struct{ tool string }

func (e *toolMissingError) Error() string {
	return e.tool + " not found: install the iptables package"
}

func isToolMissing(err error) bool {
	var m *toolMissingError
	return errors.As(err, &m)
}
