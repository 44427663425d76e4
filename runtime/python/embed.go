// Package python holds vnetml's Python runtimes (DESIGN.md §2): the run
// context a job imports (vnetml_run, and an azureml.core shim of it),
// standard library only. The node agent writes them into each job's
// directory and puts it on PYTHONPATH.
package python

import "embed"

// Lib is the job library: vnetml_run.py and azureml/core.
//
//go:embed vnetml_run.py azureml/__init__.py azureml/core/__init__.py
var Lib embed.FS
