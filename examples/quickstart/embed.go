// Package quickstart holds the quickstart's files — the network manifest
// and the training script — embedded, so that `vnetml quickstart` runs on
// a machine with nothing but the binary.
package quickstart

import "embed"

// Files are network.yaml, train/ and score.py.
//
//go:embed network.yaml train/train.py score.py
var Files embed.FS
