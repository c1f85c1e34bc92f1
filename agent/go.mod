module github.com/sockerless-lambda/sockerless/agent

go 1.26.0

require (
	github.com/creack/pty v1.1.24
	github.com/gorilla/websocket v1.5.3
	github.com/hashicorp/yamux v0.1.2
	golang.org/x/sys v0.48.0
)

require golang.org/x/crypto/x509roots/fallback v0.0.0-20261030153154-30a33513ff6d
