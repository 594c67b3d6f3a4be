listener "https" {
  prot = 443 # ERROR: Did you mean "port"? The argument "port" is required
}
