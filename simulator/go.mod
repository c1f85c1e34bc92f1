module github.com/sockerless-lambda/sockerless/simulator

go 1.26
