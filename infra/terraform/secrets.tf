# The application's secrets: Terraform creates the (CMK-encrypted) containers; the values are put
# out of band (README.md) so they never pass through Terraform state. ECS injects them into the
# containers as environment variables at start (ecs.tf), so a changed value takes effect on the
# next deployment. Every one needs a value before the first deployment: ECS will not start a task
# whose secret has none.
#
#   BB_DATABASE_URL               postgres://bb_app:<password>@<rds endpoint>:5432/blockbuilders?sslmode=require
#                                 (given to bb as DATABASE_URL; the role is created per README.md)
#   BB_JWT_SECRET                 HS256 secret of the auth provider (Supabase's JWT secret)
#   BB_STRIPE_SECRET_KEY          Stripe API key
#   BB_STRIPE_WEBHOOK_SECRET      Stripe webhook signing secret
#   BB_SUPABASE_SERVICE_ROLE_KEY  Supabase admin API key (roles, invitations)
#   BB_SMTP_URL                   smtp(s)://user:password@relay:port
#   BB_METRICS_TOKEN              bearer token required by /metrics

locals {
  app_secret_names = toset([
    "BB_DATABASE_URL",
    "BB_JWT_SECRET",
    "BB_STRIPE_SECRET_KEY",
    "BB_STRIPE_WEBHOOK_SECRET",
    "BB_SUPABASE_SERVICE_ROLE_KEY",
    "BB_SMTP_URL",
    "BB_METRICS_TOKEN",
  ])
}

resource "aws_secretsmanager_secret" "app" {
  #checkov:skip=CKV2_AWS_57:These are third-party credentials (Stripe, Supabase, the SMTP relay) and a DB role password; they are rotated by the runbook procedure in README.md, not by a rotation Lambda
  for_each = local.app_secret_names

  name                    = "${local.name}/${each.key}"
  description             = "${local.name}: ${each.key} (value set out of band)"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 30
}

# Which service receives which secret, as environment variable => secret above. The execution role
# of each service may read only its own list (iam.tf).
locals {
  service_secrets = {
    api = {
      DATABASE_URL                 = "BB_DATABASE_URL"
      BB_JWT_SECRET                = "BB_JWT_SECRET"
      BB_STRIPE_SECRET_KEY         = "BB_STRIPE_SECRET_KEY"
      BB_STRIPE_WEBHOOK_SECRET     = "BB_STRIPE_WEBHOOK_SECRET"
      BB_SUPABASE_SERVICE_ROLE_KEY = "BB_SUPABASE_SERVICE_ROLE_KEY"
      BB_SMTP_URL                  = "BB_SMTP_URL"
      BB_METRICS_TOKEN             = "BB_METRICS_TOKEN"
    }
    worker = {
      DATABASE_URL     = "BB_DATABASE_URL"
      BB_SMTP_URL      = "BB_SMTP_URL"
      BB_METRICS_TOKEN = "BB_METRICS_TOKEN"
    }
    sql = {
      DATABASE_URL  = "BB_DATABASE_URL"
      BB_JWT_SECRET = "BB_JWT_SECRET"
    }
  }
}
