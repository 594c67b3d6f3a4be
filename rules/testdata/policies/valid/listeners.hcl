variable "admin_port" {
  default     = 8443
  description = "where the admin UI listens"
}

listener "https" {
  description = "HTTPS must be served, not only HTTP"
  severity    = "critical"
  port        = 443
  process     = "nginx"
  tags        = ["web"]
}

listener "admin" {
  port    = var.admin_port
  address = "loopback"
}

listener "redis-private" {
  port    = 6379
  address = "public"
  expect  = "absent"
}

listener "dns" {
  port     = 53
  protocol = "udp"
  address  = "127.0.0.53"
}

accepting "all" {}

waiver "listener.redis-private" {
  reason  = "Replica sync over the public address until the VPN is in, OPS-142"
  expires = "2026-12-31"
}
