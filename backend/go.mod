module github.com/sockerless-lambda/sockerless/backend

go 1.26
