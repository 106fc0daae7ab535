# Load balancers: the public ALB in front of the API (HTTPS only, WAF-protected, access-logged),
# and the NLB in front of the SQL endpoint.

# ---- the API's ALB ----

resource "aws_lb" "api" {
  #checkov:skip=CKV2_AWS_76:The Log4j rules are in AWSManagedRulesKnownBadInputsRuleSet, which is attached; the check also demands AWSManagedRulesAnonymousIpList, which would block Stripe's webhooks (sent from cloud hosting addresses) and users on VPNs
  name               = "${local.name}-api"
  load_balancer_type = "application"
  internal           = false
  subnets            = aws_subnet.public[*].id
  security_groups    = [aws_security_group.alb.id]

  drop_invalid_header_fields = true
  enable_deletion_protection = true
  # the API's WebSocket (/api/v1/ws) stays open between messages
  idle_timeout = 300

  access_logs {
    bucket  = aws_s3_bucket.logs.id
    prefix  = "alb"
    enabled = true
  }

  tags = { Name = "${local.name}-api" }

  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_lb_target_group" "api" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; bb serves plain HTTP to it inside the VPC, on private subnets only the ALB's security group can reach
  name                 = "${local.name}-api"
  port                 = 8000
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 30

  # ready = the database answers (health only says the process is up)
  health_check {
    path                = "/api/v1/ready"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }
}

# ---- WAF on the ALB ----
# AWS managed rules (the common rule set, and known bad inputs, which includes the Log4j/Log4Shell
# rules) and a per-address rate limit. bb takes the client address for its own rate limits from
# X-Forwarded-For, which a client can pre-fill; the WAF's limit counts real source addresses.

resource "aws_wafv2_web_acl" "api" {
  name        = "${local.name}-api"
  description = "${local.name} API: AWS managed rules and a per-IP rate limit"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "aws-common"
    priority = 10

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"

        # The rule set blocks bodies over 8 KB; strategy graphs and Stripe's webhook events are
        # larger. bb enforces its own body limit (BB_BODY_LIMIT, 1 MiB), so only count these.
        rule_action_override {
          name = "SizeRestrictions_BODY"

          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.name}-aws-common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-known-bad-inputs"
    priority = 20

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.name}-aws-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 30

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.name}-rate-limit-per-ip"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${local.name}-api"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "api" {
  resource_arn = aws_lb.api.arn
  web_acl_arn  = aws_wafv2_web_acl.api.arn
}

# WAF logs go to CloudWatch; the log group's name must start with aws-waf-logs-.
resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_resource_policy" "waf" {
  policy_name     = "${local.name}-waf-logs"
  policy_document = data.aws_iam_policy_document.waf_logs.json
}

data "aws_iam_policy_document" "waf_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.waf.arn}:*"]

    principals {
      type        = "Service"
      identifiers = ["delivery.logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:*"]
    }
  }
}

resource "aws_wafv2_web_acl_logging_configuration" "api" {
  resource_arn            = aws_wafv2_web_acl.api.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  # bearer tokens and session cookies stay out of the logs
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  redacted_fields {
    single_header {
      name = "cookie"
    }
  }

  depends_on = [aws_cloudwatch_log_resource_policy.waf]
}

# ---- the SQL endpoint's NLB ----
# TCP passthrough. bb's SQL endpoint speaks no TLS (clients' passwords are API tokens, in clear
# text), and a TLS listener cannot help: Postgres clients ask for TLS inside the connection
# (SSLRequest) rather than starting with a handshake. So the endpoint stays internal by default
# (var.sql_endpoint_internal: reach it over VPN or peering) and the NLB's security group admits
# only var.sql_allowed_cidrs.

resource "aws_lb" "sql" {
  #checkov:skip=CKV_AWS_91:An NLB writes access logs only for TLS listeners and this one is TCP passthrough; connections are recorded by the VPC flow logs
  name               = "${local.name}-sql"
  load_balancer_type = "network"
  internal           = var.sql_endpoint_internal
  subnets            = var.sql_endpoint_internal ? aws_subnet.private[*].id : aws_subnet.public[*].id
  security_groups    = [aws_security_group.nlb.id]

  enable_deletion_protection       = true
  enable_cross_zone_load_balancing = true

  tags = { Name = "${local.name}-sql" }
}

resource "aws_lb_target_group" "sql" {
  name                 = "${local.name}-sql"
  port                 = 5433
  protocol             = "TCP"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 60
  # bb limits logins per client address, so it must see the clients' addresses
  preserve_client_ip = true

  health_check {
    protocol            = "TCP"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "sql" {
  #checkov:skip=CKV_AWS_2:Postgres wire protocol, not HTTP: clients request TLS in-band (SSLRequest), which a TLS listener cannot answer, so TCP passes through to an internal, CIDR-restricted endpoint
  load_balancer_arn = aws_lb.sql.arn
  port              = 5433
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.sql.arn
  }
}
