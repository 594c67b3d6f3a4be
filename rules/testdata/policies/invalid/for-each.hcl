variable "ports" {
  default = [22, 80]
}
listener "list" {
  for_each = ["redis", "kafka"] # ERROR: you have provided a value of type tuple. Convert a list of strings with toset(...)
  port     = 1
}
listener "number" {
  for_each = 6379 # ERROR: you have provided a value of type number
  port     = 1
}
listener "null" {
  for_each = null # ERROR: The given "for_each" argument value is null
  port     = 1
}
listener "set-of-numbers" {
  for_each = toset(var.ports) # ERROR: you have provided a value of type set of number
  port     = each.value
}
listener "no-for-each" {
  port = each.value # ERROR: each.key and each.value exist only in a check block that sets for_each
}
listener "bad-instance" {
  for_each = { ssh = 22, web = "http" }
  port     = each.value # ERROR: port must be number
}
listener "typo" {
  for_each = { ssh = 22 }
  port     = each.valeu # ERROR: Unsupported attribute
}
listener "good" {
  for_each = { ssh = 22 }
  port     = each.value
}
waiver "listener.good[\"sh\"]" { # ERROR: Did you mean listener.good["ssh"]?
  reason  = "a typo in the key"
  expires = "2030-01-01"
}
disable "listener.list[redis" { # ERROR: does not name a check
  reason = "unclosed bracket"
}
