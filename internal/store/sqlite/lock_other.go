//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

// lockFile is a no-op where flock is unavailable: run one store per
// database file.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }

func syncDir(string) {}
