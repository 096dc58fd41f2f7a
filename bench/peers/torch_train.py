#!/usr/bin/env python3
"""PyTorch reference for `npm run bench`: the same models, batch, optimizer and data as Whittle's
training benchmark; prints one JSON line. Run with OMP_NUM_THREADS/OMP_WAIT_POLICY set by the caller.

usage: torch_train.py MODEL THREADS WARMUP_STEPS TIMED_STEPS MNIST_DIR

Debian's python3-torch uses whatever libblas.so.3 the system selects; the reference BLAS is ~10x
slower than OpenBLAS and must not be the peer. Without libopenblas0-pthread installed, point
LD_LIBRARY_PATH at an unpacked copy of it (its openblas-pthread directory holds libblas.so.3).
"""
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class LeNet300(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, 10)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class LeNet5(nn.Module):
    """Caffe's LeNet: conv20 5x5, pool, conv50 5x5, pool, fc500, relu, fc10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc1 = nn.Linear(800, 500)
        self.fc2 = nn.Linear(500, 10)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 2)
        x = F.max_pool2d(self.conv2(x), 2)
        x = x.view(x.size(0), -1)
        return self.fc2(F.relu(self.fc1(x)))


class RowLstm(nn.Module):
    """Whittle's zoo `lstm`: the 28 image rows as a 28-step sequence, LSTM(28, 64), Linear(64, 10)
    on the last hidden state (the corpus's mnist_lstm)."""

    def __init__(self, hidden=64):
        super().__init__()
        self.lstm = nn.LSTM(28, hidden)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, x):
        _, (h, _) = self.lstm(x.reshape(x.size(0), 28, 28).transpose(0, 1))
        return self.fc(h[-1])


MODELS = {"lenet-300-100": LeNet300, "lenet-5": LeNet5, "lstm": RowLstm}


def main():
    model_name, threads, warmup, timed, mnist_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images = read_idx(os.path.join(mnist_dir, "train-images-idx3-ubyte"))
    labels = read_idx(os.path.join(mnist_dir, "train-labels-idx1-ubyte"))
    x_all = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y_all = torch.from_numpy(labels.astype(np.int64))
    model = MODELS[model_name]()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    batch = 64
    perm = torch.randperm(x_all.shape[0])

    def step(i):
        idx = perm[(i * batch) % (x_all.shape[0] - batch):][:batch]
        x, y = x_all[idx], y_all[idx]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for i in range(warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(warmup, warmup + timed):
        loss = step(i)
    float(loss)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"engine": "pytorch", "version": torch.__version__, "model": model_name, "threads": threads,
                      "samplesPerSec": timed * batch / seconds, "peakRssBytes": rss}))


if __name__ == "__main__":
    main()
