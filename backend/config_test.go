package backend

import (
	"strings"
	"testing"
)

func TestConfigDefaults(t *testing.T) {
	t.Setenv("SOCKERLESS_LAMBDA_ROLE_ARN", "arn:aws:iam::123456789012:role/r")
	t.Setenv("SOCKERLESS_CALLBACK_URL", "ws://host.docker.internal:3376")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "us-east-1" || c.LogGroup != "/sockerless/lambda" || c.MemorySize != 1024 || c.Timeout != 900 {
		t.Errorf("defaults: got region %q, log group %q, memory %d, timeout %d", c.Region, c.LogGroup, c.MemorySize, c.Timeout)
	}
	if c.JournalLogGroup != "/sockerless/lambda/journal" {
		t.Errorf("journal log group default: got %q", c.JournalLogGroup)
	}
	if c.DockerHost != "tcp://127.0.0.1:3375" {
		t.Errorf("docker host default: got %q", c.DockerHost)
	}
	if c.CallbackListen != ":3376" {
		t.Errorf("callback listen follows the callback URL's port: got %q", c.CallbackListen)
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	cases := []struct {
		name, key, value, want string
	}{
		{"malformed role", "SOCKERLESS_LAMBDA_ROLE_ARN", "my-role", "SOCKERLESS_LAMBDA_ROLE_ARN: \"my-role\" is not an IAM role ARN"},
		{"memory too small", "SOCKERLESS_LAMBDA_MEMORY_SIZE", "64", "SOCKERLESS_LAMBDA_MEMORY_SIZE: \"64\" is not allowed: a whole number of MB from 128 to 10240"},
		{"memory too large", "SOCKERLESS_LAMBDA_MEMORY_SIZE", "10241", "from 128 to 10240"},
		{"memory not a number", "SOCKERLESS_LAMBDA_MEMORY_SIZE", "1G", "SOCKERLESS_LAMBDA_MEMORY_SIZE"},
		{"timeout zero", "SOCKERLESS_LAMBDA_TIMEOUT", "0", "SOCKERLESS_LAMBDA_TIMEOUT: \"0\" is not allowed: a whole number of seconds from 1 to 900"},
		{"timeout too long", "SOCKERLESS_LAMBDA_TIMEOUT", "901", "from 1 to 900"},
		{"callback not websocket", "SOCKERLESS_CALLBACK_URL", "http://x:1", "SOCKERLESS_CALLBACK_URL: \"http://x:1\" is not a ws:// or wss:// URL"},
		{"bad subnet", "SOCKERLESS_LAMBDA_SUBNETS", "subnet-1,foo", "SOCKERLESS_LAMBDA_SUBNETS"},
		{"bad region", "AWS_REGION", "mars", "AWS_REGION"},
		{"bad endpoint", "SOCKERLESS_ENDPOINT_URL", "localhost:4566", "SOCKERLESS_ENDPOINT_URL"},
		{"bad architecture", "SOCKERLESS_LAMBDA_ARCHITECTURE", "riscv", "SOCKERLESS_LAMBDA_ARCHITECTURE"},
		{"journal in the functions' group", "SOCKERLESS_JOURNAL_LOG_GROUP", "/sockerless/lambda", "SOCKERLESS_JOURNAL_LOG_GROUP: must differ from SOCKERLESS_LAMBDA_LOG_GROUP"},
		{"bad access point", "SOCKERLESS_EFS_ACCESS_POINT_ARN", "fsap-0123", "SOCKERLESS_EFS_ACCESS_POINT_ARN: \"fsap-0123\" is not an EFS access point ARN"},
		{"access point without a VPC on AWS", "SOCKERLESS_EFS_ACCESS_POINT_ARN", "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0", "SOCKERLESS_LAMBDA_SUBNETS is empty: Lambda mounts EFS only into functions in a VPC"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SOCKERLESS_LAMBDA_ROLE_ARN", "arn:aws:iam::123456789012:role/r")
			t.Setenv("SOCKERLESS_CALLBACK_URL", "ws://h:3376")
			t.Setenv(tc.key, tc.value)
			_, err := ConfigFromEnv()
			if err == nil {
				t.Fatalf("%s=%q accepted", tc.key, tc.value)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line containing %q", err, tc.want)
			}
		})
	}
}

func TestConfigRequiresRoleAndCallback(t *testing.T) {
	t.Setenv("SOCKERLESS_LAMBDA_ROLE_ARN", "")
	t.Setenv("SOCKERLESS_CALLBACK_URL", "ws://h:1")
	if _, err := ConfigFromEnv(); err == nil || !strings.HasPrefix(err.Error(), "SOCKERLESS_LAMBDA_ROLE_ARN: required") {
		t.Errorf("missing role: got %v", err)
	}
	t.Setenv("SOCKERLESS_LAMBDA_ROLE_ARN", "arn:aws:iam::123456789012:role/r")
	t.Setenv("SOCKERLESS_CALLBACK_URL", "")
	if _, err := ConfigFromEnv(); err == nil || !strings.HasPrefix(err.Error(), "SOCKERLESS_CALLBACK_URL: required") {
		t.Errorf("missing callback: got %v", err)
	}
}
