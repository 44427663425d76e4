"""A shim of the azureml package for jobs on vnetml: azureml.core.Run is vnetml_run.Run."""
