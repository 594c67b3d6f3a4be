ignore "no-area" { # ERROR: The argument "area" is required
  match = { chain = "DOCKER*" }
}
ignore "bad-area" {
  area  = "routing" # ERROR: "routing" is not a valid area
  match = { chain = "x" }
}
ignore "bad-glob" {
  area  = "firewall"
  match = { chain = "br-[0-9" } # ERROR: match.chain = "br-[0-9" is not a valid glob
}
ignore "everything" {
  area = "listeners" # ERROR: would hide every change in listeners
}
ignore "statd" {
  area  = "listeners"
  match = { program = "rpc.statd" }
}
ignore "statd" { # ERROR: ignore "statd" is already declared
  area  = "listeners"
  match = { program = "rpc.statd" }
}
drift {
  severity = { firewall = "urgent", routing = "info" } # ERROR: severity.firewall = "urgent"; use info, warning or critical
}
drift { # ERROR: the policy holds at most one
}
