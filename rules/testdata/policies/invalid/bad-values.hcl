listener "a" {
  port     = 70000 # ERROR: port must be a whole number from 1 to 65535, not 70000
  protocol = "sctp" # ERROR: "sctp" is not a valid protocol; allowed: "tcp", "udp"
}
listener "b" {
  port     = "https" # ERROR: Wrong type for port
  severity = "urgent" # ERROR: allowed: "info", "warning", "critical"
}
listener "c" {
  port    = 80
  address = "everywhere" # ERROR: is neither an IP address nor one of "any", "loopback", "public"
}
