egress "udp" {
  protocol = "udp"
  port     = 53
  to       = "192.0.2.53"
  confirm  = true # ERROR: confirm makes a real TCP connection
}
egress "deny" {
  port    = 25
  to      = "192.0.2.25"
  expect  = "deny"
  confirm = true # ERROR: leave it out for expect = "deny"
}
egress "range" {
  port    = 587
  to      = "0.0.0.0/0"
  confirm = true # ERROR: give it a single address
}
egress "timeout-alone" {
  port    = 587
  timeout = "1s" # ERROR: add confirm or drop timeout
}
