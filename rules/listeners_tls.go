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
		Needs:  []string{snapshot.CollectorProbes},
		Decode: func(d *Decoder) Check { return decodeListenerProbes(d, true) },
	})
}
