//go:build tools

// Package tools pins KWOK's controller command.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
