listener "redis" {
  port   = 6379
  expect = "absent"
}
waiver "listener.rdis" { # ERROR: Did you mean "listener.redis"?
  reason  = "typo in the name"
  expires = "2026-12-31"
}
waiver "listener.redis" {
  reason  = "no expiry date"
  expires = "someday" # ERROR: Waivers must expire
}
