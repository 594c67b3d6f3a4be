package rules

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// listeners_tls shares listeners_respond's probes of every listener, and
// judges the certificates of the TLS ports.
func init() {
	Register(&Kind{
		Name:    "listeners_tls",
		Summary: "every TCP listener on a TLS port presents a certificate that stays valid for at least cert_min_days",
		Attributes: []hcl.AttributeSchema{
			{Name: "port"},
			{Name: "address"},
			{Name: "timeout"},
			{Name: "tls_ports"},
			{Name: "cert_min_days"},
		},
		AttributeDocs: map[string]string{
			"port":          "only the listener on this port (default: those on tls_ports)",
			"address":       "which listeners: any (default), loopback, public or one IP address",
			"timeout":       "how long a TLS handshake may take (default \"3s\")",
			"tls_ports":     "the ports that speak TLS (default 443, 465, 636, 853, 993, 995, 6443, 8443)",
			"cert_min_days": "how many more days each certificate must stay valid (default 14)",
		},
		Needs:  []string{snapshot.CollectorProbes},
		Decode: func(d *Decoder) Check { return decodeListenerProbes(d, true) },
	})
}
