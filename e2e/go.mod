module github.com/sockerless-lambda/sockerless/e2e

go 1.26
