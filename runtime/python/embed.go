// Package python holds vnetml's Python runtimes (DESIGN.md §2), standard
// library only: the run context a job imports (vnetml_run, and an
// azureml.core shim of it), which the node agent writes into each job's
// directory and puts on PYTHONPATH; and the scoring server a web-service
// replica runs (vnetml_score.py, score_embed.go): Azure ML's entry-script
// contract, init() once and run(raw_data) per request.
package python

import "embed"

// Lib is the job library: vnetml_run.py and azureml/core.
//
//go:embed vnetml_run.py azureml/__init__.py azureml/core/__init__.py
var Lib embed.FS
