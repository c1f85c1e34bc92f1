# The log group of every function (the backend sets it in each function's
# LoggingConfig): the containers' output. The backend creates the group at
# start if it is missing; creating it here sets its retention and lets the
# execution role be scoped to it.
resource "aws_cloudwatch_log_group" "functions" {
  name              = var.log_group_name
  retention_in_days = var.log_retention_days
}

# The backend's journals: the streams sockerless/containers/<id>,
# sockerless/images, sockerless/networks and sockerless/volumes, from which a
# restarted backend rebuilds its state (docs/state.md). A group of their own:
# the execution role cannot write to it, so a container cannot forge the
# backend's records, and it never expires, so a long-lived container's record
# outlives the output's retention.
resource "aws_cloudwatch_log_group" "journal" {
  name              = "${var.log_group_name}/journal"
  retention_in_days = 0
}
