package firewall

import (
	"testing"

	"github.com/google/nftables/userdata"
)

func TestRuleComment(t *testing.T) {
	ebt := userdata.AppendUint32(nil, userdata.TypeEbtablesPolicy, 1)
	tests := []struct {
		name  string
		udata []byte
		want  string
		ok    bool
	}{
		{"nft comment", userdata.AppendString(nil, userdata.TypeComment, "ssh from the VPN"), "ssh from the VPN", true},
		{"after another record", userdata.AppendString(ebt, userdata.TypeComment, "x"), "x", true},
		{"none", ebt, "", false},
		{"empty", nil, "", false},
		{"truncated record", []byte{byte(userdata.TypeComment), 50, 'a', 'b'}, "", false},
		{"truncated before the comment", []byte{7, 9, 0}, "", false},
	}
	for _, tt := range tests {
		got, ok := ruleComment(tt.udata)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: ruleComment(%q) = %q, %v; want %q, %v", tt.name, tt.udata, got, ok, tt.want, tt.ok)
		}
	}
}
