locals {
  a = local.b # ERROR: local.a -> local.b -> local.c -> local.a
  b = local.c
  c = local.a
}
locals {
  d = local.nope  # ERROR: No local value named "nope"
  e = upper(1, 2) # ERROR: Too many function arguments
  f = local.d
}
locals {
  port = 22
}
locals {
  port = 23 # ERROR: Duplicate local value
}
listener "uses-bad-local" {
  port = local.f
}
listener "still-checked" {
  port = "http" # ERROR: port must be number
}
