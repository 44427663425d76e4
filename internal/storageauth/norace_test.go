//go:build !race

package storageauth

const raceEnabled = false
