package firewall

import (
	"reflect"
	"testing"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// TestDecodeFirstPacket: nft expressions on headers a first packet lacks,
// and on rate and history, decode into decidable matches (lists as
// `nft --debug=netlink` prints them).
func TestDecodeFirstPacket(t *testing.T) {
	nfproto6 := []Expr{{Name: "meta", E: &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}}, {Name: "cmp", E: &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV6}}}}
	drop := Expr{Name: "immediate", E: &expr.Verdict{Kind: expr.VerdictDrop}}
	nfp := snapshot.Match{Field: "nfproto", Values: []string{"ipv6"}}
	tests := []struct {
		name  string
		exprs []Expr
		want  []snapshot.Match
	}{
		{"rt type 0", append(nfproto6[:2:2],
			Expr{Name: "exthdr", E: &expr.Exthdr{DestRegister: 1, Type: 43, Offset: 2, Len: 1, Op: expr.ExthdrOpIpv6}},
			Expr{Name: "cmp", E: &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0}}}, drop),
			[]snapshot.Match{nfp, {Field: "header", Values: []string{"rt"}}}},
		{"frag more-fragments 1", append(nfproto6[:2:2],
			Expr{Name: "exthdr", E: &expr.Exthdr{DestRegister: 1, Type: 44, Offset: 3, Len: 1, Op: expr.ExthdrOpIpv6}},
			Expr{Name: "bitwise", E: &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{1, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}}},
			Expr{Name: "cmp", E: &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{1}}}, drop),
			[]snapshot.Match{nfp, {Field: "header", Values: []string{"frag"}}}},
		{"exthdr frag exists", append(nfproto6[:2:2],
			Expr{Name: "exthdr", E: &expr.Exthdr{DestRegister: 1, Type: 44, Len: 1, Op: expr.ExthdrOpIpv6, Flags: unix.NFT_EXTHDR_F_PRESENT}},
			Expr{Name: "cmp", E: &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{1}}}, drop),
			[]snapshot.Match{nfp, {Field: "header", Values: []string{"frag"}}}},
		{"exthdr hbh missing", append(nfproto6[:2:2],
			Expr{Name: "exthdr", E: &expr.Exthdr{DestRegister: 1, Type: 0, Len: 1, Op: expr.ExthdrOpIpv6, Flags: unix.NFT_EXTHDR_F_PRESENT}},
			Expr{Name: "cmp", E: &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0}}}, drop),
			[]snapshot.Match{nfp, {Field: "header", Negate: true, Values: []string{"hbh"}}}},
		{"ip option rr exists", []Expr{
			{Name: "exthdr", E: &expr.Exthdr{DestRegister: 1, Type: 7, Len: 1, Op: exthdrOpIPv4, Flags: unix.NFT_EXTHDR_F_PRESENT}},
			{Name: "cmp", E: &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{1}}}, drop},
			[]snapshot.Match{{Field: "header", Values: []string{"ipv4-options"}}}},
		{"fib saddr . mark . iif oif missing", []Expr{
			{Name: "fib", E: &expr.Fib{Register: 1, ResultOIF: true, FlagSADDR: true, FlagMARK: true, FlagIIF: true}},
			{Name: "cmp", E: &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0, 0, 0}}}, drop},
			[]snapshot.Match{{Field: "rpf", Negate: true, Values: []string{"strict"}}}},
		{"limit rate over", []Expr{{Name: "limit", E: &expr.Limit{Type: expr.LimitTypePkts, Rate: 10, Unit: expr.LimitTimeSecond, Burst: 20, Over: true}}, drop},
			[]snapshot.Match{{Field: "assume", Values: []string{"nomatch"}, Reason: "packets matching it stay under limit rate over 10/second burst 20"}}},
		{"ct count over 3", []Expr{{Name: "connlimit", E: &expr.Connlimit{Count: 3, Flags: 1}}, drop},
			[]snapshot.Match{{Field: "assume", Values: []string{"nomatch"}, Reason: "fewer than 3 other connections counted by the rule are open (ct count over 3)"}}},
		{"ct count 0", []Expr{{Name: "connlimit", E: &expr.Connlimit{Count: 0}}, drop},
			[]snapshot.Match{{Field: "assume", Values: []string{"nomatch"}}}},
		{"meter", []Expr{
			{Name: "payload", E: &expr.Payload{OperationType: expr.PayloadLoad, DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}},
			{Name: "dynset", E: &expr.Dynset{SrcRegKey: 1, SetName: "seen", Exprs: []expr.Any{&expr.Limit{Type: expr.LimitTypePkts, Rate: 5, Unit: expr.LimitTimeSecond, Burst: 5, Over: true}}}}, drop},
			[]snapshot.Match{{Field: "assume", Values: []string{"nomatch"}, Reason: "the peer is new to @seen (limit rate over 5/second burst 5)"}}},
	}
	for _, tt := range tests {
		r := DecodeRule("ip", tt.exprs, nil)
		if tt.name[:2] == "rt" || tt.name[:2] == "fr" || tt.name[:2] == "ex" {
			r = DecodeRule("inet", tt.exprs, nil)
		}
		if !reflect.DeepEqual(r.Matches, tt.want) || len(r.Unsupported) > 0 || r.Verdict.Kind != snapshot.VerdictDrop {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, r, tt.want)
		}
	}
}
