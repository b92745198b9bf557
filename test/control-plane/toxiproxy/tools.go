//go:build tools

// Package tools pins Toxiproxy's server, the TCP proxy that injects connection faults in front
// of the test API server (see ../build.ts).
package tools

import _ "github.com/Shopify/toxiproxy/v2/cmd/server"
