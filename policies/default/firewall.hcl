# The firewall: what the kernel really does with packets, whichever tool wrote
# the rules (UFW, firewalld, Docker, kube-proxy, plain iptables or nftables).
# These checks need root or CAP_NET_ADMIN to read the rules; without them
# they are errors that say so, never passes.

# iptables-legacy and nf_tables (nftables, and iptables-nft, Debian's default
# iptables) are both hooked into the kernel. Rules in both means a packet must
# pass both, and a drop in either wins, while `iptables -L` shows only one.
firewall_backends "single-backend" {
  description = "Firewall rules live in one backend, not in iptables-legacy and nftables at once"
  severity    = "warning"
}

# The same internal services as listeners.hcl: bound to a public address AND
# accepted by the firewall from anywhere, they are reachable by the internet.
firewall_exposed "internal-services" {
  description = "No internal service (Redis, PostgreSQL, MySQL, MongoDB, Elasticsearch, memcached, RabbitMQ, etcd, ZooKeeper, Kafka) is reachable from anywhere"
  severity    = "critical"
  protocol    = "tcp"
  ports       = [6379, 5432, 3306, 27017, 9200, 9300, 11211, 5672, 2379, 2181, 9092]
  tags        = ["internal-service"]
}

firewall_exposed "internal-services-udp" {
  description = "memcached over UDP (an amplification vector) is not reachable from anywhere"
  severity    = "critical"
  protocol    = "udp"
  ports       = [11211]
  tags        = ["internal-service"]
}

# Docker sets the filter FORWARD policy to DROP when it starts: a host that
# routed for a VPN, VMs or a LAN stops doing so, silently.
docker_forward "routing-survives-docker" {
  description = "Docker's FORWARD policy does not drop the traffic this host routes for other networks"
  severity    = "warning"
}
