# Inputs. Values that differ per environment live in environments/<env>.tfvars; the defaults here
# are the production-safe choice.

# ---- identity and placement ----

variable "project" {
  description = "Name prefix of every resource."
  type        = string
  default     = "blockbuilders"
}

variable "environment" {
  description = "Environment name: staging or production."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "aws_region" {
  description = "AWS region to deploy into."
  type        = string
}

variable "availability_zones" {
  description = "The two availability zones to use, named explicitly so the layout never shifts when AWS adds a zone."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 2
    error_message = "availability_zones must name exactly two zones."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC (a /16: the subnets are /24s carved from it)."
  type        = string
  default     = "10.40.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both private subnets (cheaper, but egress depends on one AZ). False: one per AZ."
  type        = bool
  default     = false
}

# ---- the image ----

variable "ecr_repository_name" {
  description = "ECR repository (in this account and region) holding the bb image built from infra/Dockerfile."
  type        = string
  default     = "blockbuilders/bb"
}

variable "image_tag" {
  description = "Tag of the bb image to run (an immutable tag such as the git commit)."
  type        = string
}

# ---- ECS services: sizes and counts ----

variable "api_desired_count" {
  description = "Tasks of `bb serve` behind the ALB."
  type        = number
  default     = 2
}

variable "api_cpu" {
  description = "CPU units of an API task (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "api_memory" {
  description = "Memory of an API task, MiB."
  type        = number
  default     = 2048
}

variable "worker_desired_count" {
  description = "Tasks of `bb worker` (backtests, paper trading, notifications)."
  type        = number
  default     = 2
}

variable "worker_cpu" {
  description = "CPU units of a worker task."
  type        = number
  default     = 2048
}

variable "worker_memory" {
  description = "Memory of a worker task, MiB (backtests hold candles in memory)."
  type        = number
  default     = 4096
}

variable "sql_desired_count" {
  description = "Tasks of `bb sql-server` (the Postgres-wire SQL endpoint)."
  type        = number
  default     = 2
}

variable "sql_cpu" {
  description = "CPU units of a SQL endpoint task."
  type        = number
  default     = 1024
}

variable "sql_memory" {
  description = "Memory of a SQL endpoint task, MiB (query results are buffered up to BB_SQL_MAX_ROWS)."
  type        = number
  default     = 4096
}

# ---- application settings (plain, non-secret) ----

variable "public_url" {
  description = "Public URL of the app (BB_PUBLIC_URL): links in e-mails, Stripe return URLs; https turns on HSTS."
  type        = string
}

variable "cors_origins" {
  description = "Origins allowed by CORS, comma-separated as BB_CORS_ORIGINS takes them: the web front end's URLs."
  type        = string
}

variable "mail_from" {
  description = "Sender of notification e-mails (BB_MAIL_FROM)."
  type        = string
}

variable "supabase_url" {
  description = "Supabase project URL (BB_SUPABASE_URL): its JWKS verifies tokens. Empty: HS256 tokens only (BB_JWT_SECRET)."
  type        = string
  default     = ""
}

variable "otel_exporter_otlp_endpoint" {
  description = "OTLP/HTTP endpoint for traces (OTEL_EXPORTER_OTLP_ENDPOINT), reached over HTTPS. Empty: no tracing."
  type        = string
  default     = ""
}

variable "app_environment" {
  description = "Further plain settings for every bb container, e.g. BB_STRIPE_PRICE_PREMIUM. Never secrets."
  type        = map(string)
  default     = {}
}

# ---- data ----

variable "lake_prefix" {
  description = "Key prefix of the Delta lake inside the lake bucket (BB_LAKE_URI = s3://<bucket>/<prefix>)."
  type        = string
  default     = "lake"
}

variable "lake_noncurrent_version_days" {
  description = "Days S3 keeps overwritten or deleted lake objects, so a Delta table can be restored to an earlier version after a bad write or VACUUM."
  type        = number
  default     = 30
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.m7g.large"
}

variable "db_allocated_storage" {
  description = "Initial RDS storage, GiB."
  type        = number
  default     = 50
}

variable "db_max_allocated_storage" {
  description = "Ceiling for RDS storage autoscaling, GiB."
  type        = number
  default     = 500
}

variable "db_multi_az" {
  description = "Run RDS with a synchronous standby in a second AZ."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated RDS backups (point-in-time recovery window)."
  type        = number
  default     = 14
}

# ---- edge ----

variable "certificate_arn" {
  description = "ACM certificate (in aws_region) for the ALB's HTTPS listener."
  type        = string
}

variable "waf_rate_limit" {
  description = "Requests one client IP may make in 5 minutes before the WAF blocks it."
  type        = number
  default     = 3000
}

variable "sql_endpoint_internal" {
  description = "Keep the SQL endpoint's NLB internal (reachable from the VPC and peered/VPN networks only). False: internet-facing, still limited to sql_allowed_cidrs."
  type        = bool
  default     = true
}

variable "sql_allowed_cidrs" {
  description = "Client networks allowed to reach the SQL endpoint on 5433. Empty: nobody."
  type        = list(string)
  default     = []
}

# ---- outbound traffic of the tasks ----

variable "smtp_port" {
  description = "Port of the SMTP relay in BB_SMTP_URL (587 submission with STARTTLS, or 465)."
  type        = number
  default     = 587
}

variable "webhook_ports" {
  description = "Ports the worker may reach on the internet to deliver users' webhooks (URLs are http or https)."
  type        = list(number)
  default     = [80, 443]
}

# ---- logs ----

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups (application, VPC flow, WAF, RDS)."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value of at least 365 (365, 400, 545, 731, ...)."
  }
}

variable "access_log_retention_days" {
  description = "Days the log bucket keeps ALB and S3 access logs."
  type        = number
  default     = 400
}
