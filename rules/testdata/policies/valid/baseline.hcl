# Drift against a baseline: ignore blocks and per-area severities.
ignore "docker-chains" {
  area   = "firewall"
  match  = { table = "filter", chain = "DOCKER*" }
  reason = "Docker rewrites its chains on every restart"
}

ignore "kube-endpoints" {
  area  = "firewall"
  kind  = "rule"
  match = { id = "*KUBE-SEP-*" }
}

ignore "statd" {
  area  = "listeners"
  match = { program = "rpc.statd" }
}

drift {
  severity = { firewall = "critical", listeners = "info", dns = "warning" }
}
