package firewall

import (
	"fmt"
	"strings"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// exthdrOpIPv4 is NFT_EXTHDR_OP_IPV4 (ip option), missing from x/sys.
const exthdrOpIPv4 = 2

// exthdrOpSCTP is NFT_EXTHDR_OP_SCTP (sctp chunk), missing from x/sys.
const exthdrOpSCTP = 3

// ipv6ExthdrNames names the IPv6 extension headers nft's exthdr reads, by
// their next-header number.
var ipv6ExthdrNames = map[uint8]string{0: "hbh", 43: "rt", 44: "frag", 60: "dst", 135: "mh", 51: "ah", 50: "esp"}

// exthdr decodes a load from an IPv6 extension header or an IPv4 option. A
// load of a header the packet lacks ends the rule (NFT_BREAK), so it is a
// requirement that the header be there; with the "present" flag it loads
// whether it is there instead. TCP and SCTP options stay undecided: a SYN
// carries options.
func (d *decoder) exthdr(e *expr.Exthdr) {
	var name string
	switch e.Op {
	case expr.ExthdrOpIpv6:
		name = ipv6ExthdrNames[e.Type]
		if name == "" {
			name = fmt.Sprintf("ipv6-exthdr-%d", e.Type)
		}
	case exthdrOpIPv4:
		name = "ipv4-options"
	case exthdrOpSCTP:
		if e.SourceRegister == 0 && e.Flags&unix.NFT_EXTHDR_F_PRESENT != 0 {
			name := fmt.Sprintf("type-%d", e.Type)
			if e.Type == 1 {
				name = "init"
			}
			d.set(e.DestRegister, regVal{field: "sctp_chunk_present", size: 1, reason: name})
			return
		}
		fallthrough
	default:
		// TCP options and SCTP chunks: what the sender put in the
		// segment; a write (maxseg clamping) changes none of the fields
		// the simulator reads.
		if e.SourceRegister != 0 {
			d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "option_set"})
			return
		}
		d.set(e.DestRegister, regVal{field: snapshot.FieldMayMatch, size: int(e.Len), reason: fmt.Sprintf("%stcp option or sctp chunk %d: what the sender put in the segment", snapshot.MayPayload, e.Type)})
		return
	}
	if e.SourceRegister != 0 {
		d.unsupported("write to the %s header", name)
		return
	}
	if e.Flags&unix.NFT_EXTHDR_F_PRESENT != 0 {
		d.set(e.DestRegister, regVal{field: "header_present", size: 1, reason: name})
		return
	}
	d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: "header", Values: []string{name}})
	d.set(e.DestRegister, regVal{field: "header_field", reason: name + " header field"})
}

// assume records a match on rate or history with its outcome for a fresh
// peer under normal load.
func (d *decoder) assume(match bool, cond string) {
	v := snapshot.AssumeNoMatch
	if match {
		v = snapshot.AssumeMatch
	}
	d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: snapshot.FieldAssume, Values: []string{v}, Reason: cond})
}

// connlimitFirst is whether "ct count" matches the first connection of a
// peer, which counts 1: "ct count N" matches up to N, "over N" above it.
func connlimitFirst(e *expr.Connlimit) bool {
	over := e.Flags&1 != 0 // NFT_CONNLIMIT_F_INV
	return (1 > e.Count) == over
}

func connlimitText(e *expr.Connlimit) string {
	if e.Flags&1 != 0 {
		return fmt.Sprintf("ct count over %d", e.Count)
	}
	return fmt.Sprintf("ct count %d", e.Count)
}

// meter decodes a set update with stateful expressions: the peer's element
// is new, so its limit is within the burst and its count is 1.
func (d *decoder) meter(e *expr.Dynset) {
	match := true
	var what []string
	for _, x := range e.Exprs {
		switch s := x.(type) {
		case *expr.Limit:
			match = match && !s.Over
			what = append(what, limitText(s))
		case *expr.Connlimit:
			match = match && connlimitFirst(s)
			what = append(what, connlimitText(s))
		case *expr.Counter:
		default:
			d.mayMatch(false, "set update with stateful expressions (meter)")
			return
		}
	}
	if e.Invert {
		match = !match
	}
	d.assume(match, fmt.Sprintf("the peer is new to @%s (%s)", e.SetName, strings.Join(what, ", ")))
}
