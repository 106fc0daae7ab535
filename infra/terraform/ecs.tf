# ECS on Fargate: one cluster, and one service per role of the bb image (infra/Dockerfile):
#
#   api     `bb serve --no-worker`   HTTP on 8000 behind the ALB (alb.tf)
#   worker  `bb worker`              jobs from the Postgres queue, e-mail and webhooks; no inbound
#   sql     `bb sql-server`          Postgres wire protocol on 5433 behind the NLB (alb.tf)
#
# Every service applies pending migrations when it starts: ECS has no start order between services,
# and sqlx serialises concurrent runs with an advisory lock.

locals {
  services = toset(["api", "worker", "sql"])

  image    = "${local.account_id}.dkr.ecr.${local.region}.amazonaws.com/${var.ecr_repository_name}:${var.image_tag}"
  lake_uri = "s3://${aws_s3_bucket.lake.bucket}/${var.lake_prefix}"

  # Plain settings every bb container gets. var.app_environment comes first so it cannot override
  # what this file manages.
  common_environment = merge(
    var.app_environment,
    {
      BB_LAKE_URI   = local.lake_uri
      AWS_REGION    = local.region
      BB_LOG_FORMAT = "json"
      # bb keeps no local state with DATABASE_URL and an S3 lake; anything it writes lands on the
      # scratch volume
      BB_DATA_DIR = "/tmp/bb"
    },
    var.supabase_url == "" ? {} : { BB_SUPABASE_URL = var.supabase_url },
    var.otel_exporter_otlp_endpoint == "" ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT = var.otel_exporter_otlp_endpoint },
  )

  # The root filesystem is read-only; /tmp is a per-task scratch volume. Fargate creates such a
  # volume owned by root with mode 0755, so a short-lived container opens it up (mode 1777, as /tmp
  # always is) before bb starts as uid 10001.
  scratch_volume = "scratch"

  scratch_mount = [{ sourceVolume = local.scratch_volume, containerPath = "/tmp", readOnly = false }]

  scratch_permissions = {
    for service in local.services : service => {
      name                   = "scratch-permissions"
      image                  = local.image
      essential              = false
      user                   = "0:0"
      entryPoint             = ["chmod"]
      command                = ["1777", "/tmp"]
      readonlyRootFilesystem = true
      mountPoints            = local.scratch_mount
      linuxParameters        = { capabilities = { drop = ["ALL"] } }
      logConfiguration       = local.log_configuration[service]
    }
  }

  log_configuration = {
    for service in local.services : service => {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service[service].name
        awslogs-region        = local.region
        awslogs-stream-prefix = service
      }
    }
  }

  # What the bb container of every service has in common.
  bb_container = {
    for service in local.services : service => {
      name                   = service
      image                  = local.image
      essential              = true
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      mountPoints            = local.scratch_mount
      dependsOn              = [{ containerName = "scratch-permissions", condition = "SUCCESS" }]
      linuxParameters        = { initProcessEnabled = true, capabilities = { drop = ["ALL"] } }
      secrets                = [for env, secret in local.service_secrets[service] : { name = env, valueFrom = aws_secretsmanager_secret.app[secret].arn }]
      logConfiguration       = local.log_configuration[service]
      # bb drains in-flight requests and jobs on SIGTERM
      stopTimeout = 60
    }
  }
}

resource "aws_ecs_cluster" "main" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# One KMS-encrypted log group per service (bb logs JSON lines: BB_LOG_FORMAT=json).
resource "aws_cloudwatch_log_group" "service" {
  for_each = local.services

  name              = "/ecs/${local.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

# ---- api ----

resource "aws_ecs_task_definition" "api" {
  family                   = "${local.name}-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.api_cpu
  memory                   = var.api_memory
  execution_role_arn       = aws_iam_role.execution["api"].arn
  task_role_arn            = aws_iam_role.task["api"].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = local.scratch_volume
  }

  container_definitions = jsonencode([
    local.scratch_permissions["api"],
    merge(local.bb_container["api"], {
      command      = ["serve", "--no-worker"]
      portMappings = [{ containerPort = 8000, protocol = "tcp" }]
      environment = [for k, v in merge(local.common_environment, {
        OTEL_SERVICE_NAME = "blockbuilders-api"
        BB_PUBLIC_URL     = var.public_url
        BB_CORS_ORIGINS   = var.cors_origins
        BB_MAIL_FROM      = var.mail_from
        # the ALB appends the client's address to X-Forwarded-For (per-address rate limits)
        BB_TRUSTED_IP_HEADER = "x-forwarded-for"
      }) : { name = k, value = v }]
      healthCheck = {
        command     = ["CMD-SHELL", "curl -fsS -o /dev/null http://127.0.0.1:8000/api/v1/health || exit 1"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 60
      }
    }),
  ])
}

resource "aws_ecs_service" "api" {
  name             = "api"
  cluster          = aws_ecs_cluster.main.id
  task_definition  = aws_ecs_task_definition.api.arn
  desired_count    = var.api_desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  # migrations run before the API listens
  health_check_grace_period_seconds = 120

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.api.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = "api"
    container_port   = 8000
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  # the roles' policies must exist before the first task pulls its image and secrets
  depends_on = [aws_lb_listener.https, aws_iam_role_policy.execution, aws_iam_role_policy.task]
}

# ---- worker ----

resource "aws_ecs_task_definition" "worker" {
  family                   = "${local.name}-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.worker_cpu
  memory                   = var.worker_memory
  execution_role_arn       = aws_iam_role.execution["worker"].arn
  task_role_arn            = aws_iam_role.task["worker"].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = local.scratch_volume
  }

  container_definitions = jsonencode([
    local.scratch_permissions["worker"],
    merge(local.bb_container["worker"], {
      # metrics on loopback only, for the health check (nothing may connect to a worker); to scrape
      # them, listen on 0.0.0.0 and allow the scraper in the worker's security group
      command = ["worker", "--metrics-addr", "127.0.0.1:9100"]
      environment = [for k, v in merge(local.common_environment, {
        OTEL_SERVICE_NAME = "blockbuilders-worker"
        BB_PUBLIC_URL     = var.public_url
        BB_MAIL_FROM      = var.mail_from
      }) : { name = k, value = v }]
      healthCheck = {
        command     = ["CMD-SHELL", "curl -fsS -o /dev/null -H \"Authorization: Bearer $BB_METRICS_TOKEN\" http://127.0.0.1:9100/metrics || exit 1"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 60
      }
    }),
  ])
}

resource "aws_ecs_service" "worker" {
  name             = "worker"
  cluster          = aws_ecs_cluster.main.id
  task_definition  = aws_ecs_task_definition.worker.arn
  desired_count    = var.worker_desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  # jobs are leased, so a stopped worker's job goes back to the queue; keep full capacity meanwhile
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.worker.id]
    assign_public_ip = false
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  depends_on = [aws_iam_role_policy.execution, aws_iam_role_policy.task]
}

# ---- sql ----

resource "aws_ecs_task_definition" "sql" {
  family                   = "${local.name}-sql"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.sql_cpu
  memory                   = var.sql_memory
  execution_role_arn       = aws_iam_role.execution["sql"].arn
  task_role_arn            = aws_iam_role.task["sql"].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = local.scratch_volume
  }

  container_definitions = jsonencode([
    local.scratch_permissions["sql"],
    merge(local.bb_container["sql"], {
      command      = ["sql-server"]
      portMappings = [{ containerPort = 5433, protocol = "tcp" }]
      environment = [for k, v in merge(local.common_environment, {
        OTEL_SERVICE_NAME = "blockbuilders-sql"
      }) : { name = k, value = v }]
      healthCheck = {
        command     = ["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5433"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 60
      }
    }),
  ])
}

resource "aws_ecs_service" "sql" {
  name             = "sql"
  cluster          = aws_ecs_cluster.main.id
  task_definition  = aws_ecs_task_definition.sql.arn
  desired_count    = var.sql_desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 120

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.sql.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.sql.arn
    container_name   = "sql"
    container_port   = 5433
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  depends_on = [aws_lb_listener.sql, aws_iam_role_policy.execution, aws_iam_role_policy.task]
}
