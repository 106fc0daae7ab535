# Staging: smaller and cheaper (one NAT gateway, single-AZ database, one task per service where
# that is enough), otherwise the same shape as production.
#   terraform plan -var-file=environments/staging.tfvars -var image_tag=<git sha>

environment        = "staging"
aws_region         = "eu-central-1"
availability_zones = ["eu-central-1a", "eu-central-1b"]

ecr_repository_name = "blockbuilders/bb"
# image_tag is given per deployment (-var image_tag=...)

single_nat_gateway = true
vpc_cidr           = "10.41.0.0/16"

api_desired_count    = 1
api_cpu              = 512
api_memory           = 1024
worker_desired_count = 2
worker_cpu           = 1024
worker_memory        = 2048
sql_desired_count    = 1
sql_cpu              = 512
sql_memory           = 2048

db_instance_class        = "db.t4g.medium"
db_allocated_storage     = 20
db_max_allocated_storage = 100
db_multi_az              = false
db_backup_retention_days = 14

# placeholder: the ACM certificate of the public hostname
certificate_arn = "arn:aws:acm:eu-central-1:111111111111:certificate/00000000-0000-0000-0000-000000000000"

# placeholder hostnames
public_url   = "https://staging.blockbuilders.example"
cors_origins = "https://staging.blockbuilders.example"
mail_from    = "Blockbuilders (staging) <notifications@staging.blockbuilders.example>"

# internal NLB, reached from the VPN (placeholder range)
sql_endpoint_internal = true
sql_allowed_cidrs     = ["10.100.0.0/16"]

lake_noncurrent_version_days = 30
waf_rate_limit               = 3000
log_retention_days           = 365
