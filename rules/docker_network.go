package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "docker_network",
		Summary: "a Docker network exists with the driver, subnets and internal flag the policy gives",
		Attributes: []hcl.AttributeSchema{
			{Name: "name", Required: true},
			{Name: "driver"},
			{Name: "subnet"},
			{Name: "internal"},
		},
		AttributeDocs: map[string]string{
			"name":     "the network's name",
			"driver":   "its driver (bridge, overlay, macvlan, ...)",
			"subnet":   "its subnets: a CIDR or a list of them, all of which it must have",
			"internal": "whether it must be internal (no route out), true or false",
		},
		Needs:  []string{snapshot.CollectorDocker},
		Decode: decodeDockerNetwork,
	})
}

// dockerNetworkCheck: the named network exists, and each attribute given
// matches it.
type dockerNetworkCheck struct {
	name     string
	driver   string
	subnets  []netip.Prefix
	internal *bool
}

func decodeDockerNetwork(d *Decoder) Check {
	c := &dockerNetworkCheck{name: d.String("name", ""), driver: d.String("driver", "")}
	for _, s := range d.Strings("subnet") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			d.Errorf("subnet", "Invalid value for subnet", "%q is not a CIDR range like \"10.99.0.0/24\".", s)
			continue
		}
		c.subnets = append(c.subnets, p.Masked())
	}
	if d.Has("internal") {
		v := d.Bool("internal", false)
		c.internal = &v
	}
	return c
}

func (c *dockerNetworkCheck) expected() string {
	parts := []string{"Docker network " + c.name}
	if c.driver != "" {
		parts = append(parts, "driver "+c.driver)
	}
	if len(c.subnets) > 0 {
		parts = append(parts, "subnet "+joinPrefixes(c.subnets))
	}
	if c.internal != nil {
		parts = append(parts, fmt.Sprintf("internal %t", *c.internal))
	}
	return strings.Join(parts, ", ")
}

func (c *dockerNetworkCheck) Evaluate(s *snapshot.Snapshot) Result {
	want := c.expected()
	d, bad := engineFor(s, want)
	if bad != nil {
		return *bad
	}
	n := d.Network(c.name)
	if n == nil {
		var names []string
		for _, n := range d.Networks {
			names = append(names, n.Name)
		}
		return Result{Status: finding.Fail, Expected: want, Observed: "no such network",
			Explanation: fmt.Sprintf("the Docker engine has no network named %q (networks: %s)", c.name, orNone(names)),
			Remediation: fmt.Sprintf("create it (docker network create %s, or in your compose file), or correct the name", c.name)}
	}
	var got []netip.Prefix
	for _, sn := range n.Subnets {
		got = append(got, sn.Subnet)
	}
	observed := fmt.Sprintf("Docker network %s, driver %s, subnet %s, internal %t", n.Name, n.Driver, orNone(prefixStrings(got)), n.Internal)
	var diffs []string
	if c.driver != "" && n.Driver != c.driver {
		diffs = append(diffs, fmt.Sprintf("its driver is %s, not %s", n.Driver, c.driver))
	}
	if len(c.subnets) > 0 && !samePrefixes(c.subnets, got) {
		diffs = append(diffs, fmt.Sprintf("its subnets are %s, not %s", orNone(prefixStrings(got)), joinPrefixes(c.subnets)))
	}
	if c.internal != nil && n.Internal != *c.internal {
		if n.Internal {
			diffs = append(diffs, "it is internal (its containers cannot reach outside), the policy says it is not")
		} else {
			diffs = append(diffs, "it is not internal (its containers can reach outside and be published), the policy says it is")
		}
	}
	r := Result{Expected: want, Observed: observed}
	if len(diffs) == 0 {
		r.Status, r.Explanation = finding.Pass, observed
		if n.Bridge != "" {
			r.Explanation += " (bridge " + n.Bridge + ")"
		}
		return r
	}
	r.Status = finding.Fail
	r.Explanation = fmt.Sprintf("Docker network %s differs: %s", n.Name, strings.Join(diffs, "; "))
	r.Remediation = "a network's driver, subnets and internal flag are fixed when it is created: remove it and create it again as the policy says (its containers must be disconnected first), or change the policy"
	return r
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func joinPrefixes(ps []netip.Prefix) string { return strings.Join(prefixStrings(ps), ", ") }

func samePrefixes(a, b []netip.Prefix) bool {
	as, bs := prefixStrings(a), prefixStrings(b)
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}
