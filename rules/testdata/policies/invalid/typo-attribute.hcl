listener "https" { # ERROR: Missing required argument
  prot = 443 # ERROR: Did you mean "port"?
}
