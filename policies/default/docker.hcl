# Docker: what its NAT rules do to the host's firewall, and whether what it
# publishes is really served. On a host without Docker (no DOCKER_HOST, no
# /var/run/docker.sock, no dockerd installed) these pass with "no Docker
# engine on this host"; where Docker is installed but cannot be asked (not
# running, no permission on the socket), they are errors that say why.

# A port published on 0.0.0.0 or :: is rewritten in PREROUTING and goes
# through FORWARD to the container: the host's INPUT rules (UFW's,
# firewalld's, your own) never see it. When those rules deny the port, the
# operator believes it closed while the internet reaches the container.
docker_firewall_bypass "published-around-firewall" {
  description = "No container port is published to the internet while the host firewall denies that port"
  severity    = "critical"
}

# A Docker subnet over a network the host reaches through another interface
# (a VPN, the office LAN) hides those machines behind the bridge.
docker_subnet_overlap "subnets" {
  description = "Docker's networks overlap neither each other nor the host's other routes"
  severity    = "warning"
}

# A container that publishes ports is there to answer on them.
docker_stopped_ports "publishers-running" {
  description = "Every container that publishes ports is running"
  severity    = "warning"
}
