"""The quickstart's entry script: serves the logistic regression train.py
wrote to outputs/model.json. A request is {"data": [[x0, x1], ...]}; the
answer is the probability of class 1 for each row."""

import json
import math
import os


def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.json")) as f:
        model = json.load(f)


def run(raw_data):
    rows = json.loads(raw_data)["data"]
    w, b = model["weights"], model["bias"]
    return [1 / (1 + math.exp(-(w[0] * x[0] + w[1] * x[1] + b))) for x in rows]


input_sample = {"data": [[2.0, -1.0]]}
output_sample = [0.93]
