# Production: NAT gateway per AZ, Multi-AZ database, two or more tasks per service.
#   terraform plan -var-file=environments/production.tfvars -var image_tag=<git sha>

environment        = "production"
aws_region         = "eu-central-1"
availability_zones = ["eu-central-1a", "eu-central-1b"]

ecr_repository_name = "blockbuilders/bb"
# image_tag is given per deployment (-var image_tag=...)

single_nat_gateway = false
vpc_cidr           = "10.40.0.0/16"

api_desired_count    = 2
api_cpu              = 1024
api_memory           = 2048
worker_desired_count = 2
worker_cpu           = 2048
worker_memory        = 4096
sql_desired_count    = 2
sql_cpu              = 1024
sql_memory           = 4096

db_instance_class        = "db.m7g.large"
db_allocated_storage     = 100
db_max_allocated_storage = 1000
db_multi_az              = true
db_backup_retention_days = 14

# placeholder: the ACM certificate of the public hostname
certificate_arn = "arn:aws:acm:eu-central-1:222222222222:certificate/00000000-0000-0000-0000-000000000000"

# placeholder hostnames
public_url   = "https://app.blockbuilders.example"
cors_origins = "https://app.blockbuilders.example"
mail_from    = "Blockbuilders <notifications@blockbuilders.example>"

# internal NLB, reached from the VPN (placeholder range)
sql_endpoint_internal = true
sql_allowed_cidrs     = ["10.100.0.0/16"]

lake_noncurrent_version_days = 30
waf_rate_limit               = 3000
log_retention_days           = 731
