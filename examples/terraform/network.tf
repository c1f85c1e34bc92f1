# VPC mode (optional): with subnet_ids, every function runs in those subnets
# (SOCKERLESS_LAMBDA_SUBNETS) with the security groups below
# (SOCKERLESS_LAMBDA_SECURITY_GROUPS). Lambda functions accept no inbound
# connections, so their security group needs no inbound rule; outbound, the
# agent dials the backend's callback listener, and the containers' own
# commands reach whatever the VPC's routes allow (the internet only through
# a NAT gateway).

locals {
  create_function_security_group = local.vpc_mode && length(var.security_group_ids) == 0

  function_security_group_ids = local.create_function_security_group ? aws_security_group.functions[*].id : var.security_group_ids
}

data "aws_subnet" "first" {
  count = local.vpc_mode ? 1 : 0

  id = var.subnet_ids[0]
}

locals {
  vpc_id = one(data.aws_subnet.first[*].vpc_id)
}

resource "aws_security_group" "functions" {
  count = local.create_function_security_group ? 1 : 0

  name        = "${var.name}-functions"
  description = "sockerless Lambda functions: no inbound, all outbound"
  vpc_id      = local.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "functions_all" {
  count = local.create_function_security_group ? 1 : 0

  security_group_id = aws_security_group.functions[0].id
  description       = "The agent dials the callback listener; containers reach what the VPC routes"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

# With backend_security_group_id: the backend's host, in the same VPC,
# accepts the agents' connections on the callback port from the functions.
resource "aws_vpc_security_group_ingress_rule" "backend_callback" {
  count = var.backend_security_group_id == null ? 0 : length(local.function_security_group_ids)

  security_group_id            = var.backend_security_group_id
  description                  = "sockerless agents dial the callback listener"
  referenced_security_group_id = local.function_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = var.callback_port
  to_port                      = var.callback_port
}
