# PostgreSQL 15 on RDS: the API's database (users, strategies, jobs, paper trades, the audit trail).
#
# The master user's password is generated and rotated by RDS in Secrets Manager (encrypted with the
# CMK); bb never uses it. The app connects as its own role through the BB_DATABASE_URL secret
# (secrets.tf), created once with the master credentials: see README.md.
#
# rds.force_ssl = 1 refuses unencrypted connections, so bb's Postgres driver must be built with TLS
# and BB_DATABASE_URL must ask for it (sslmode=require or stricter).

resource "aws_db_subnet_group" "main" {
  name       = local.name
  subnet_ids = aws_subnet.private[*].id

  tags = { Name = local.name }
}

resource "aws_db_parameter_group" "main" {
  name        = "${local.name}-postgres15"
  family      = "postgres15"
  description = "${local.name}: TLS only; connections, DDL, lock waits and slow statements logged"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  # schema changes (migrations, and anything done by hand) are logged in full
  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  # statements slower than a second, with their duration
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "log_lock_waits"
    value = "1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

# RDS creates its log groups on first export without encryption or retention; creating them first
# gives them both.
resource "aws_cloudwatch_log_group" "rds" {
  for_each = toset(["postgresql", "upgrade"])

  name              = "/aws/rds/instance/${local.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_db_instance" "main" {
  identifier = local.name

  engine                     = "postgres"
  engine_version             = "15"
  auto_minor_version_upgrade = true
  instance_class             = var.db_instance_class
  parameter_group_name       = aws_db_parameter_group.main.name

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.main.arn

  db_name                             = "blockbuilders"
  username                            = "bb_admin"
  manage_master_user_password         = true
  master_user_secret_kms_key_id       = aws_kms_key.main.arn
  iam_database_authentication_enabled = true

  # private subnets only, reachable from the bb tasks only
  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false
  multi_az               = var.db_multi_az

  backup_retention_period   = var.db_backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot     = true
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.name}-final"

  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  monitoring_interval                   = 30
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.main.arn
  performance_insights_retention_period = 7

  tags = { Name = local.name }

  depends_on = [aws_cloudwatch_log_group.rds]
}
