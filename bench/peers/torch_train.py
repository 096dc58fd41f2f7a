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


class ResNet20(nn.Module):
    """The zoo's resnet-cifar with 3 blocks per stage (bench name `resnet-20`): conv3x3 16 + BN + ReLU,
    stages of 16, 32, 64 channels of torchvision BasicBlocks (1x1-conv + BN shortcuts where the
    shape changes), global average pool, Linear; 1x28x28 input."""

    def __init__(self, blocks=3):
        super().__init__()
        from torchvision.models import resnet
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        layers, c_in = [], 16
        for i, w in enumerate((16, 32, 64)):
            for b in range(blocks):
                stride = 2 if i > 0 and b == 0 else 1
                down = None
                if stride != 1 or c_in != w:
                    down = nn.Sequential(nn.Conv2d(c_in, w, 1, stride=stride, bias=False), nn.BatchNorm2d(w))
                layers.append(resnet.BasicBlock(c_in, w, stride=stride, downsample=down))
                c_in = w
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, 10)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


def mobilenet_v2(width=1.0):
    """The zoo's mobilenet-v2 (torchvision's, ReLU6, width-scaled channels) with a 1-channel stem
    and a plain Linear classifier (the zoo has no dropout)."""
    from torchvision.models import mobilenet_v2 as tv_mobilenet_v2
    m = tv_mobilenet_v2(num_classes=10, width_mult=width)
    first = m.features[0][0]
    m.features[0][0] = nn.Conv2d(1, first.out_channels, 3, stride=2, padding=1, bias=False)
    m.classifier = nn.Linear(m.last_channel, 10)
    return m


class TinyVit(nn.Module):
    """The corpus ViT (test/fixtures/corpus/train_mnist.py; bench name `vit`): 7x7 patches, class
    token, learned positions, 4 pre-norm nn.TransformerEncoderLayer blocks (d 32, 4 heads, MLP 64,
    GELU), LayerNorm, Linear on the class token."""

    def __init__(self, d=32, heads=4, mlp=64, depth=4):
        super().__init__()
        self.patch = nn.Conv2d(1, d, 7, stride=7)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.randn(1, 17, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, heads, mlp, dropout=0.0, activation="gelu", norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 10)

    def forward(self, x):
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls.expand(x.shape[0], -1, -1), tokens], dim=1) + self.pos
        return self.fc(self.norm(self.encoder(tokens.transpose(0, 1))[0]))


MODELS = {"lenet-300-100": LeNet300, "lenet-5": LeNet5, "lstm": RowLstm, "resnet-20": ResNet20, "mobilenet-v2": mobilenet_v2, "vit": TinyVit}


def main():
    model_name, threads, warmup, timed, mnist_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images = read_idx(os.path.join(mnist_dir, "train-images-idx3-ubyte"))
    labels = read_idx(os.path.join(mnist_dir, "train-labels-idx1-ubyte"))
    x_all = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y_all = torch.from_numpy(labels.astype(np.int64))
    base, _, width = model_name.partition(":")
    model = MODELS[base](float(width)) if width else MODELS[base]()
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
