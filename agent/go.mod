module github.com/sockerless-lambda/sockerless/agent

go 1.26

require (
	github.com/gorilla/websocket v1.5.3
	github.com/hashicorp/yamux v0.1.2
)
