"""vnetml_run: the run context of a job on a vnetml compute node.

A small, standard-library-only counterpart of the Azure ML SDK v1 ``Run``
(``from azureml.core import Run`` works too: the node puts a shim on the
job's PYTHONPATH)::

    from vnetml_run import Run

    run = Run.get_context()
    run.log("accuracy", 0.91)
    run.log_list("loss", [0.9, 0.5, 0.3])
    run.upload_file("outputs/extra.txt", "extra.txt")
    password = run.get_secret("db-password")

Everything travels through the node's network, as the platform's own
traffic does: metrics and secrets go to run history (an
AzureMachineLearning address, HTTPS on 443), uploaded files to the
workspace's storage account, both through the proxy the node sets in the
job's environment. An NSG that denies them makes these calls fail with the
network's explanation (the rule and the fix).

Outside a run (no AZUREML_RUN_ID in the environment) ``get_context``
returns an offline run that prints what it would log.
"""

import atexit
import json
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

__all__ = ["Run", "RunError"]

_FLUSH_EVERY = 100  # metrics buffered before a batch is sent
_FLUSH_SECONDS = 1.0  # or this long after the first buffered one
_TRIES = 8


class RunError(Exception):
    """A call to run history or storage failed; the message says why."""


def _context():
    ca = os.environ.get("SSL_CERT_FILE")
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    return ctx


def _opener():
    # Proxies come from the environment (HTTPS_PROXY), which the node set
    # to its egress into the virtual network.
    return urllib.request.build_opener(
        urllib.request.ProxyHandler(), urllib.request.HTTPSHandler(context=_context())
    )


def _explain(err):
    """The server's message of an HTTP error, else the error itself."""
    if isinstance(err, urllib.error.HTTPError):
        body = err.read().decode("utf-8", "replace")
        try:
            e = json.loads(body)["error"]
            return "%s: %s" % (e.get("code"), e.get("message"))
        except (ValueError, KeyError, TypeError):
            return "HTTP %d: %s" % (err.code, body.strip()[:2000] or err.reason)
    return str(err)


class Run:
    """The current run (``Run.get_context()``)."""

    _current = None
    _lock = threading.Lock()

    def __init__(self, env=None):
        env = os.environ if env is None else env
        self.id = env["AZUREML_RUN_ID"]
        self.experiment = env.get("AZUREML_EXPERIMENT_NAME", "")
        self.attempt = int(env.get("AZUREML_RUN_ATTEMPT", "1"))
        self._history = env["AZUREML_RUN_HISTORY_URL"].rstrip("/")
        self._token = env["AZUREML_RUN_TOKEN"]
        self._artifacts = env.get("AZUREML_ARTIFACTS_URL", "")
        self._prefix = env.get("AZUREML_ARTIFACTS_PREFIX", "")
        self._open = _opener()
        self._buf = []
        self._first = None
        self._mu = threading.Lock()
        self._step = {}
        atexit.register(self.flush)

    @classmethod
    def get_context(cls, allow_offline=True):
        """The run this process is part of, or an offline run."""
        with cls._lock:
            if cls._current is None:
                if "AZUREML_RUN_ID" in os.environ:
                    cls._current = Run()
                elif allow_offline:
                    cls._current = _OfflineRun()
                else:
                    raise RunError("not in a run: AZUREML_RUN_ID is not set")
            return cls._current

    # --- metrics ---------------------------------------------------------

    def log(self, name, value, description=""):
        """Log a value (a number, a string or a bool) under name."""
        if isinstance(value, bool) or isinstance(value, (int, float, str)):
            self._add(name, value)
        else:
            raise TypeError("run.log takes a number, a string or a bool; use log_list for a list")

    def log_list(self, name, values, description=""):
        """Log a list of values under name, one step each."""
        for v in values:
            self.log(name, v)

    def _add(self, name, value):
        with self._mu:
            step = self._step.get(name, 0)
            self._step[name] = step + 1
            self._buf.append(
                {
                    "name": name,
                    "value": value,
                    "step": step,
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
                    + ".%06dZ" % (int(time.time() * 1e6) % 1000000),
                }
            )
            if self._first is None:
                self._first = time.monotonic()
            due = len(self._buf) >= _FLUSH_EVERY or time.monotonic() - self._first >= _FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self):
        """Send the buffered metrics to run history (retried, never doubled)."""
        with self._mu:
            batch, self._buf, self._first = self._buf, [], None
        if not batch:
            return
        body = {"batchId": uuid.uuid4().hex, "metrics": batch}
        self._call("POST", "/metrics", body)

    # --- artifacts and secrets -----------------------------------------

    def upload_file(self, name, path_or_stream):
        """Upload a file to the run's artifacts as name (e.g. outputs/x.txt)."""
        if not self._artifacts:
            raise RunError("this run has no artifact store")
        if hasattr(path_or_stream, "read"):
            data = path_or_stream.read()
        else:
            with open(path_or_stream, "rb") as f:
                data = f.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        base, _, sas = self._artifacts.partition("?")
        blob = urllib.parse.quote(self._prefix + name.lstrip("/"))
        req = urllib.request.Request(
            base + "/" + blob + "?" + sas,
            data=data,
            method="PUT",
            headers={"x-ms-blob-type": "BlockBlob", "x-ms-version": "2021-12-02", "Content-Type": "application/octet-stream"},
        )
        try:
            with self._open.open(req, timeout=60) as r:
                r.read()
        except (urllib.error.URLError, OSError) as e:
            raise RunError("uploading %s to the run's artifacts failed: %s" % (name, _explain(e))) from None

    def get_secret(self, name):
        """A secret of the workspace's key vault, read by run history."""
        return self._call("GET", "/secrets/" + urllib.parse.quote(name, safe=""), None)["value"]

    def get_secrets(self, secrets):
        return {n: self.get_secret(n) for n in secrets}

    # --- transport -------------------------------------------------------

    def _call(self, method, path, body):
        data = None if body is None else json.dumps(body).encode("utf-8")
        last = None
        for i in range(_TRIES):
            req = urllib.request.Request(
                self._history + path,
                data=data,
                method=method,
                headers={"Authorization": "Bearer " + self._token, "Content-Type": "application/json"},
            )
            try:
                with self._open.open(req, timeout=30) as r:
                    return json.loads(r.read() or b"{}")
            except urllib.error.HTTPError as e:
                last = _explain(e)
                if e.code < 500 and e.code != 429:
                    break  # the server's answer: retrying changes nothing
            except (urllib.error.URLError, OSError) as e:
                last = _explain(getattr(e, "reason", e))
            time.sleep(min(2.0, 0.1 * 2**i))
        raise RunError("run history (%s %s %s): %s" % (method, urllib.parse.urlsplit(self._history).netloc, path, last))


class _OfflineRun(Run):
    """What get_context returns outside a run: it prints what it logs."""

    def __init__(self):
        self.id = "OfflineRun_" + uuid.uuid4().hex[:8]
        self.experiment = ""
        self.attempt = 1

    def _add(self, name, value):
        print("%s: %r" % (name, value), file=sys.stderr)

    def flush(self):
        pass

    def upload_file(self, name, path_or_stream):
        print("offline: would upload %s as %s" % (path_or_stream, name), file=sys.stderr)

    def get_secret(self, name):
        if name in os.environ:
            return os.environ[name]
        raise RunError("offline run: no run history to read secret %s from (set it in the environment)" % name)
