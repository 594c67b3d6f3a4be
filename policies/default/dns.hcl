# Names: what the world sees when it looks this host up. After a migration the
# A records often still point at the old address, and every client that asks
# DNS goes there while the host itself looks fine.

# Behind NAT, other machines reach this host at an address it does not hold.
# hostdrift never asks the internet for it: give it, e.g.
#   --var 'public_addresses=["203.0.113.7"]'
variable "public_addresses" {
  description = "Addresses this host is reached at but does not hold itself (NAT, a load balancer)"
  default     = []
}

# Every A and AAAA record of the host's FQDN, as the system resolvers answer,
# is one of its addresses: one stale record among good ones still sends some
# clients to the old host.
#
# On a laptop or CI box nobody promised the name would resolve, so a name
# with no address (NXDOMAIN, no record) is an error, not drift; so are
# resolvers that time out or refuse. An error never passes: the report says
# why the check could not be judged, and a failed AAAA query never hides a
# wrong A answer (that is a fail). A host without a domain has no FQDN to
# resolve: the check is skipped there.
dns "fqdn-resolves-to-host" {
  description = "The host's FQDN resolves, through the system resolvers, to its own addresses"
  name        = host.fqdn
  type        = ["A", "AAAA"]
  expect      = [host.addresses, var.public_addresses]
  match       = "all"
  unresolved  = "error"
}

# /etc/hosts answers before DNS. A line that pins the host's own name to an
# address it no longer holds (left over from a migration or a cloned image)
# sends local clients of its own services elsewhere. Loopback (Debian's
# 127.0.1.1 for hosts without a permanent address) is this host, so it passes.
hosts_entry "own-name-current" {
  description    = "/etc/hosts does not pin the host's own name to an address it no longer holds"
  name           = [host.hostname, host.fqdn]
  expect         = [host.addresses, var.public_addresses]
  allow_loopback = true
}
