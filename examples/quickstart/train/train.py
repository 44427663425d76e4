"""Logistic regression on a generated data set, with the standard library
only: the quickstart's experiment. It logs the loss and accuracy of every
epoch to run history and writes the model to outputs/model.json, which the
node uploads to the workspace's storage account when the run ends."""

import argparse
import json
import math
import os
import random

from azureml.core import Run  # vnetml's shim of the SDK's Run



def positive(text):
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be 1 or more, not %d" % n)
    return n


parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=positive, default=20)
parser.add_argument("--learning-rate", type=float, default=0.5)
parser.add_argument("--samples", type=int, default=2000)
parser.add_argument("--seed", type=int, default=7)
args = parser.parse_args()

run = Run.get_context()
rng = random.Random(args.seed)

# Two features; the label is 1 above a line, with some noise.
TRUE_W, TRUE_B = (2.0, -3.0), 0.5


def sample():
    x = (rng.uniform(-2, 2), rng.uniform(-2, 2))
    z = TRUE_W[0] * x[0] + TRUE_W[1] * x[1] + TRUE_B + rng.gauss(0, 0.5)
    return x, 1 if z > 0 else 0


data = [sample() for _ in range(args.samples)]
split = int(0.8 * len(data))
train, test = data[:split], data[split:]


def sigmoid(z):
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def predict(w, b, x):
    return sigmoid(w[0] * x[0] + w[1] * x[1] + b)


def accuracy(w, b, rows):
    return sum((predict(w, b, x) > 0.5) == (y == 1) for x, y in rows) / len(rows)


w, b = [0.0, 0.0], 0.0
for epoch in range(args.epochs):
    gw, gb, loss = [0.0, 0.0], 0.0, 0.0
    for x, y in train:
        p = predict(w, b, x)
        loss -= y * math.log(p + 1e-12) + (1 - y) * math.log(1 - p + 1e-12)
        gw[0] += (p - y) * x[0]
        gw[1] += (p - y) * x[1]
        gb += p - y
    n = len(train)
    w = [w[0] - args.learning_rate * gw[0] / n, w[1] - args.learning_rate * gw[1] / n]
    b -= args.learning_rate * gb / n
    acc = accuracy(w, b, test)
    run.log("loss", loss / n)
    run.log("accuracy", acc)
    print("epoch %2d  loss %.4f  accuracy %.3f" % (epoch + 1, loss / n, acc))

os.makedirs("outputs", exist_ok=True)
with open("outputs/model.json", "w") as f:
    json.dump({"weights": w, "bias": b, "features": ["x0", "x1"], "accuracy": acc}, f, indent=2)
print("model written to outputs/model.json")
run.flush()
