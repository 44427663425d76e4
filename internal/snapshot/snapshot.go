// Package snapshot owns a run's snapshot: its source directory packed by
// the CLI into a deterministic gzip-compressed tar (Pack), and unpacked on
// the node (Extract), within Azure ML SDK v1's limits.
//
// Which files go in follows the SDK v1: the root .amlignore if there is
// one, else the root .gitignore (never both), read with git's gitignore
// rules (ParseIgnore). Ignore files in subdirectories are not read.
//
// A snapshot's id is the hex SHA-256 of its compressed bytes; Pack writes
// the same bytes for the same tree content wherever it lies and whenever
// its files were touched, so an unchanged source directory gives the same
// id and its upload can be reused.
package snapshot

import (
	"fmt"

	"github.com/vnetml/vnetml/internal/armerror"
)

// Limits bound a snapshot. A field that is zero or negative takes
// DefaultLimits' value, so the zero Limits is DefaultLimits.
type Limits struct {
	MaxBytes int64 // file content, uncompressed
	MaxFiles int   // regular files (directories are not counted)
}

// DefaultLimits are the Azure ML SDK v1's snapshot limits: 300 MB of file
// content and 2000 files
// (https://learn.microsoft.com/azure/machine-learning/how-to-save-write-experiment-files#storage-limits-of-experiment-snapshots).
var DefaultLimits = Limits{MaxBytes: 300 * 1024 * 1024, MaxFiles: 2000}

// Error codes of the errors this package returns (as *armerror.Error).
const (
	CodeTooLarge     = "SnapshotTooLarge"
	CodeTooManyFiles = "SnapshotTooManyFiles"
	CodeTooManyDirs  = "SnapshotTooManyDirectories"
	CodeUnsafeEntry  = "SnapshotUnsafeEntry"
	CodeBadArchive   = "SnapshotInvalidArchive"
	CodeSourceDir    = "SnapshotSourceDirectory"
	CodeChanged      = "SnapshotFileChanged"
)

func (l Limits) norm() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultLimits.MaxFiles
	}
	return l
}

// maxDirs bounds the directories of a snapshot, which the SDK does not
// count: enough for any tree within MaxFiles, few enough that a tar of
// empty directories cannot exhaust the node.
func (l Limits) maxDirs() int { return 10*l.MaxFiles + 100 }

// maxCompressed bounds the compressed input Extract reads: the content,
// gzip's worst case for incompressible data (a few bytes per 16 KiB
// block), and generous room for every entry's headers.
func (l Limits) maxCompressed() int64 {
	return l.MaxBytes + l.MaxBytes/64 + int64(l.MaxFiles+l.maxDirs())*8192 + 1<<20
}

const hint = "add patterns for what the run does not need to the directory's .amlignore " +
	"(it takes the place of .gitignore, with the same syntax), or put data in a datastore " +
	"and read it from there (https://aka.ms/aml-largefiles)"

func sizeError(dir string, l Limits) error {
	return armerror.New(CodeTooLarge, dir,
		"While attempting to take snapshot of %s\nYour total snapshot size exceeds the limit of %s MB.\nHint: %s",
		dir, mb(l.MaxBytes), hint)
}

func filesError(dir string, l Limits) error {
	return armerror.New(CodeTooManyFiles, dir,
		"While attempting to take snapshot of %s\nYour total snapshot file count exceeds the limit of %d files.\nHint: %s",
		dir, l.MaxFiles, hint)
}

func dirsError(dir string, l Limits) error {
	return armerror.New(CodeTooManyDirs, dir,
		"While attempting to take snapshot of %s\nYour snapshot has more than %d directories.\nHint: %s",
		dir, l.maxDirs(), hint)
}

// mb renders bytes in MB as the SDK's Python does (300.0, 0.5).
func mb(n int64) string {
	s := fmt.Sprintf("%g", float64(n)/(1024*1024))
	for _, c := range s {
		if c == '.' || c == 'e' {
			return s
		}
	}
	return s + ".0"
}
