# What operators and CI need after an apply: where things are, and which secrets to fill.

output "api_dns_name" {
  description = "DNS name of the ALB: point the public hostname (certificate_arn's) at it."
  value       = aws_lb.api.dns_name
}

output "sql_endpoint_dns_name" {
  description = "DNS name of the SQL endpoint's NLB (port 5433)."
  value       = aws_lb.sql.dns_name
}

output "lake_uri" {
  description = "BB_LAKE_URI of the deployed services."
  value       = local.lake_uri
}

output "log_bucket" {
  description = "Bucket holding the ALB and S3 access logs."
  value       = aws_s3_bucket.logs.bucket
}

output "db_endpoint" {
  description = "RDS endpoint (host:port) for BB_DATABASE_URL."
  value       = aws_db_instance.main.endpoint
}

output "db_master_secret_arn" {
  description = "Secret (managed and rotated by RDS) holding the master user's credentials; used only to create the app's role."
  value       = aws_db_instance.main.master_user_secret[0].secret_arn
}

output "app_secret_arns" {
  description = "Secrets whose values must be put out of band before the first deployment."
  value       = { for name, secret in aws_secretsmanager_secret.app : name => secret.arn }
}

output "kms_key_arn" {
  description = "The environment's customer-managed KMS key."
  value       = aws_kms_key.main.arn
}

output "ecs_cluster_name" {
  description = "ECS cluster running the api, worker and sql services."
  value       = aws_ecs_cluster.main.name
}

output "image" {
  description = "Image the task definitions run."
  value       = local.image
}
