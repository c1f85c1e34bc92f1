# The log group of every function (the backend sets it in each function's
# LoggingConfig) and of the backend's journals: the streams
# sockerless/containers/<id>, sockerless/images and sockerless/networks, from
# which a restarted backend rebuilds its state (docs/state.md). The backend
# creates the group at start if it is missing; creating it here sets its
# retention and lets the execution role be scoped to it.
resource "aws_cloudwatch_log_group" "functions" {
  name              = var.log_group_name
  retention_in_days = var.log_retention_days
}
