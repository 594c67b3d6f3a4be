variable "services" {
  default = ["ssh", "web"]
}
variable "private_net" {
  default = "10.20.0.0/16"
}

locals {
  ports = {
    ssh = 22
    web = 443
  }
  # locals may refer to variables, host facts and each other, in any order
  gateway   = cidrhost(local.app_net, 1)
  app_net   = cidrsubnet(var.private_net, 8, 2)
  admin_tag = format("%s-admin", lower(host.hostname))
}

listener "service" {
  for_each    = toset(var.services)
  description = "${upper(each.key)} must listen"
  port        = lookup(local.ports, each.value, 0)
  tags        = concat(["service"], [local.admin_tag])
}

listener "private" {
  for_each = {
    web  = { port = 8443, address = local.gateway }
    ssh  = { port = 2222, address = cidrhost(local.app_net, 2) }
  }
  port    = each.value.port
  address = each.value.address
}

listener "by-host" {
  for_each = toset(host.addresses)
  port     = 22
  address  = each.key
}

waiver "listener.service" {
  reason  = "every instance, OPS-1"
  expires = "2030-01-01"
}

disable "listener.private[\"ssh\"]" {
  reason = "one instance, OPS-2"
}
