listener "x" {
  port = var.nope # ERROR: Unsupported attribute
}
