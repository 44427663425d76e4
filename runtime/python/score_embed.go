package python

import _ "embed"

// Score is vnetml_score.py, the scoring server a web-service replica runs
// (spec §A.8): it imports the deployment's entry script, calls its init()
// once and serves run() on POST /score, with the liveness probe on GET /
// and an OpenAPI document on GET /swagger.json. The node agent writes it
// beside the entry script and runs it with python3; the command line and
// the one JSON line it prints on stdout are described in its docstring.
//
//go:embed vnetml_score.py
var Score []byte
