# The network: a VPC with a public and a private subnet in each of two AZs, NAT for the private
# subnets' outbound traffic, an S3 gateway endpoint, VPC flow logs, and the security groups.
#
#   public subnets:  the ALB (and the SQL endpoint's NLB when it is internet-facing), NAT gateways
#   private subnets: the ECS tasks, RDS, the internal NLB

resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = local.name }
}

# The VPC's default security group, stripped of its rules so nothing can use it by accident.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id

  tags = { Name = "${local.name}-default-unused" }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id

  tags = { Name = local.name }
}

resource "aws_subnet" "public" {
  count = length(local.azs)

  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, count.index)
  # nothing launched here needs a public address of its own: the ALB and NAT gateways get theirs
  map_public_ip_on_launch = false

  tags = { Name = "${local.name}-public-${local.azs[count.index]}" }
}

resource "aws_subnet" "private" {
  count = length(local.azs)

  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, 10 + count.index)

  tags = { Name = "${local.name}-private-${local.azs[count.index]}" }
}

# ---- routing ----

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }

  tags = { Name = "${local.name}-public" }
}

resource "aws_route_table_association" "public" {
  count = length(local.azs)

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# NAT: one per AZ, or a single shared one when var.single_nat_gateway (staging).
resource "aws_eip" "nat" {
  count = var.single_nat_gateway ? 1 : length(local.azs)

  domain = "vpc"

  tags = { Name = "${local.name}-nat-${local.azs[count.index]}" }
}

resource "aws_nat_gateway" "main" {
  count = length(aws_eip.nat)

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = { Name = "${local.name}-${local.azs[count.index]}" }

  depends_on = [aws_internet_gateway.main]
}

resource "aws_route_table" "private" {
  count = length(local.azs)

  vpc_id = aws_vpc.main.id

  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.main[min(count.index, length(aws_nat_gateway.main) - 1)].id
  }

  tags = { Name = "${local.name}-private-${local.azs[count.index]}" }
}

resource "aws_route_table_association" "private" {
  count = length(local.azs)

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# S3 traffic (the lake, image layers from ECR) stays on the AWS network instead of the NAT gateways.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.main.id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id

  tags = { Name = "${local.name}-s3" }
}

# ---- VPC flow logs: every accepted and rejected flow, to a KMS-encrypted log group ----

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/vpc/${local.name}/flow-logs"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_flow_log" "main" {
  vpc_id               = aws_vpc.main.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn         = aws_iam_role.flow_logs.arn

  tags = { Name = local.name }
}

# ---- security groups ----
# Tasks may reach the internet on 443 only (plus, for the worker, SMTP and the webhook ports): 443 covers the AWS APIs (S3 through the gateway endpoint, ECR, STS), Stripe, Supabase's
# JWKS and admin API, and a hosted OTLP collector. Those are many changing addresses, so the
# destination is 0.0.0.0/0 rather than a list that would go stale; everything else is denied.

resource "aws_security_group" "alb" {
  name        = "${local.name}-alb"
  description = "Public ALB: HTTPS from anywhere (HTTP only to redirect), to the API tasks"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-alb" }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from the internet"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:Port 80 only answers with a redirect to HTTPS (alb.tf); nothing is served over plain HTTP
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from the internet, redirected to HTTPS by the listener"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the API tasks"
  referenced_security_group_id = aws_security_group.api.id
  ip_protocol                  = "tcp"
  from_port                    = 8000
  to_port                      = 8000
}

resource "aws_security_group" "api" {
  name        = "${local.name}-api"
  description = "API tasks (bb serve): 8000 from the ALB; out to RDS and HTTPS"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-api" }
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.api.id
  description                  = "HTTP from the ALB"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = 8000
  to_port                      = 8000
}

resource "aws_security_group" "worker" {
  name        = "${local.name}-worker"
  description = "Worker tasks (bb worker): no inbound; out to RDS, SMTP, HTTPS and webhook ports"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-worker" }
}

resource "aws_security_group" "sql" {
  name        = "${local.name}-sql"
  description = "SQL endpoint tasks (bb sql-server): 5433 from the NLB and allowed clients; out to RDS and HTTPS"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-sql" }
}

resource "aws_vpc_security_group_ingress_rule" "sql_from_nlb" {
  security_group_id            = aws_security_group.sql.id
  description                  = "NLB health checks"
  referenced_security_group_id = aws_security_group.nlb.id
  ip_protocol                  = "tcp"
  from_port                    = 5433
  to_port                      = 5433
}

# The NLB preserves client addresses (so bb's per-address login limit sees real clients), so the
# tasks see the clients' own addresses and must allow the same networks the NLB does.
resource "aws_vpc_security_group_ingress_rule" "sql_from_clients" {
  for_each = toset(var.sql_allowed_cidrs)

  security_group_id = aws_security_group.sql.id
  description       = "SQL clients through the NLB"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 5433
  to_port           = 5433
}

resource "aws_security_group" "nlb" {
  name        = "${local.name}-sql-nlb"
  description = "SQL endpoint NLB: 5433 from sql_allowed_cidrs only, to the SQL tasks"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-sql-nlb" }
}

resource "aws_vpc_security_group_ingress_rule" "nlb_from_clients" {
  for_each = toset(var.sql_allowed_cidrs)

  security_group_id = aws_security_group.nlb.id
  description       = "SQL clients"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 5433
  to_port           = 5433
}

resource "aws_vpc_security_group_egress_rule" "nlb_to_sql" {
  security_group_id            = aws_security_group.nlb.id
  description                  = "To the SQL endpoint tasks"
  referenced_security_group_id = aws_security_group.sql.id
  ip_protocol                  = "tcp"
  from_port                    = 5433
  to_port                      = 5433
}

resource "aws_security_group" "db" {
  name        = "${local.name}-db"
  description = "RDS PostgreSQL: 5432 from the bb tasks only; no outbound"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-db" }
}

# Rules every kind of bb task shares: Postgres to RDS, HTTPS out.
locals {
  task_security_groups = {
    api    = aws_security_group.api.id
    worker = aws_security_group.worker.id
    sql    = aws_security_group.sql.id
  }
}

resource "aws_vpc_security_group_ingress_rule" "db_from_tasks" {
  for_each = local.task_security_groups

  security_group_id            = aws_security_group.db.id
  description                  = "Postgres from the ${each.key} tasks"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_db" {
  for_each = local.task_security_groups

  security_group_id            = each.value
  description                  = "Postgres on RDS"
  referenced_security_group_id = aws_security_group.db.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  for_each = local.task_security_groups

  security_group_id = each.value
  description       = "HTTPS: AWS APIs, Stripe, Supabase, OTLP (see the note above)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

# E-mail: only the worker sends it (the API reads BB_SMTP_URL but never connects).
resource "aws_vpc_security_group_egress_rule" "worker_smtp" {
  security_group_id = aws_security_group.worker.id
  description       = "SMTP relay (BB_SMTP_URL)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = var.smtp_port
  to_port           = var.smtp_port
}

# Users' webhooks: the worker delivers them to http(s) URLs anywhere (bb refuses private addresses).
resource "aws_vpc_security_group_egress_rule" "worker_webhooks" {
  for_each = toset([for p in var.webhook_ports : tostring(p) if p != 443])

  security_group_id = aws_security_group.worker.id
  description       = "Webhook deliveries on port ${each.value}"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
}
