// Package quickstart holds the quickstart's files — the network manifest
// and the training script — embedded, so that `vnetml quickstart` runs on
// a machine with nothing but the binary.
package quickstart

import "embed"

// Files are network.yaml and train/.
//
//go:embed network.yaml train/train.py
var Files embed.FS
