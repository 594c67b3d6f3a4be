listener "a" {
  port = tonumbr("80") # ERROR: There is no function named "tonumbr". Did you mean "tonumber"?
}
listener "b" {
  port = cidrhost("10.0.0.0/24") # ERROR: Not enough function arguments
}
listener "c" {
  port    = 22
  address = cidrhost("10.0.0.0/33", 5) # ERROR: invalid CIDR address
}
