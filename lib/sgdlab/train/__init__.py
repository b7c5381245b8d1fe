"""Training on torch: models, optimisers, the training loop and vectorised ensembles (parts 1–5).

Public surface::

    from sgdlab.train import mlp, small_cnn, NTKLinear, num_params            # models (no BatchNorm)
    from sgdlab.train import NormalizedSGDM, effective_lr, pytorch_lr        # torch.optim-style SGDM
    from sgdlab.train import FunctionalOptimizer, OPTIMIZERS                 # sgd, gd, sgdm, sgdm_normalized, adam
    from sgdlab.train import TrainConfig, train, TrainResult                 # one run
    from sgdlab.train import train_ensemble, EnsembleResult                  # many seeds / lrs at once
    from sgdlab.train import BatchSampler, as_tensors, evaluate, estimator_weights

Example (part 4: a Fashion-MNIST MLP)::

    from sgdlab import data
    from sgdlab.train import mlp, TrainConfig, train, train_ensemble
    d = data.image_classification("fashion", n_train=5000, n_test=1000)
    cfg = TrainConfig(optimizer="sgd", lr=0.1, batch_size=64, steps=500, eval_every=100)
    res = train(mlp([784, 256, 10], seed=0), d, cfg.replace(seed=0))
    ens = train_ensemble(lambda s: mlp([784, 256, 10], seed=s), d, cfg, seeds=range(8))
    ens.history["test_acc"]          # (n_eval, 8)
"""
from .ensemble import EnsembleResult, train_ensemble
from .loop import (
    GRADIENTS,
    SAMPLINGS,
    BatchSampler,
    TensorData,
    TrainConfig,
    TrainResult,
    as_tensors,
    estimator_weights,
    evaluate,
    train,
)
from .losses import LOSSES, mean_loss, per_sample_loss
from .models import MLP, NTKLinear, SmallCNN, mlp, num_params, small_cnn
from .optim import OPTIMIZERS, FunctionalOptimizer, NormalizedSGDM, effective_lr, pytorch_lr

__all__ = [
    "NormalizedSGDM", "effective_lr", "pytorch_lr", "FunctionalOptimizer", "OPTIMIZERS",
    "mlp", "small_cnn", "NTKLinear", "MLP", "SmallCNN", "num_params",
    "TrainConfig", "TrainResult", "train", "BatchSampler", "TensorData", "as_tensors", "evaluate",
    "estimator_weights", "SAMPLINGS", "GRADIENTS", "LOSSES", "mean_loss", "per_sample_loss",
    "train_ensemble", "EnsembleResult",
]
